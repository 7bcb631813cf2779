"""The one error reading a template raises."""


class TemplateError(Exception):
    """The template cannot be run locally; the message is one line that says why."""
