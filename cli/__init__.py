"""Command line: supportdesk serve | deploy | log-call | tasks | complete | show."""

def main():
    pass
