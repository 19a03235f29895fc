"""Audit and reports: verify history chains, replay tickets and ask what-if, export (C32); the
C31 SLA report; the simulation of plausible calls on a simulated clock.

May use: everything in the engine but the admin pages' façade.
"""
