"""template.yaml -> plain dicts, with CloudFormation's short-form tags in their long form.

Written here rather than taken from cfn-lint's decoder: that decoder imports the whole linter
(about 0.4 s and tens of MB at every start of the stack) to read what is, for a `sam build`
output, plain YAML. PyYAML's C loader reads it; the short forms (`!Ref`, `!GetAtt`, `!Sub`...)
that a hand-written template may use are the only CloudFormation addition to YAML.
"""

from pathlib import Path
from typing import Any

import yaml

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class TemplateSyntaxError(ValueError):
    """Not YAML, or a tag CloudFormation does not have; `line` is 1-based, if known."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _TemplateLoader(_Loader):
    """A safe loader that knows CloudFormation's tags and keeps every mapping a plain dict."""


def _long_form(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            # `!GetAtt Table.Arn` is the list form [Table, Arn]; a nested attribute keeps its dots.
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


def _condition(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
    return {"Condition": loader.construct_scalar(node)}


_TemplateLoader.add_multi_constructor("!", _long_form)
_TemplateLoader.add_constructor("!Condition", _condition)


def read_template(path: Path) -> Any:
    """The parsed document (any YAML value; the caller checks it is a mapping)."""
    try:
        return yaml.load(path.read_bytes(), Loader=_TemplateLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise TemplateSyntaxError(f"{error.problem or error}", line) from None
    except yaml.YAMLError as error:
        raise TemplateSyntaxError(str(error), None) from None
