"""The process: SpiffWorkflow set up for the desk (parser, serializer, script engine, handler
tasks), diagram versions and every check a deploy runs, the forms the diagrams declare, and the
charter's roles (a user task's lane).

May use: working time and SLA, the store, errors and settings.
"""
