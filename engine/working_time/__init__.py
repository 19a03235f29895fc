"""Working time and SLA arithmetic: the one clock, the working-time calendar (C13), SLA figures from
dated segments (``sla``: due moments, breaches, at risk), and the SLA policy (targets, goals).

Pure: no database, no web (an import-linter contract keeps it so), so every rule here can be read
and tested alone. A ticket's clocks in the store are ``tickets.sla_clocks``.
"""
