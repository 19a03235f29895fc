"""People and access: staff users, their sign-in and its throttling, customer accounts and their
account managers, API tokens, and the customers' portal (its links and what it shows).

May use: tickets, the desk, the process (roles), working time, the store.
"""
