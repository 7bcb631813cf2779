"""The intrinsic functions a template uses, resolved the way CloudFormation would.

Only pseudo parameters, Parameters (their Default), and Ref/GetAtt to resources are known
before a deployment; anything else is a TemplateError naming where it was found.
"""

import json
import re
from typing import Any

from emulator.app.errors import TemplateError
from emulator.app.resource_names import (
    ALPHABET_LOWER,
    DYNAMODB_TABLE,
    FUNCTION,
    IMPLICIT_API,
    SIMPLE_TABLE,
    api_id_for,
    physical_name,
    stable_id,
)

_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")
# What `!Ref` returns for resources whose Ref is their name (when the template names them).
_NAME_PROPERTY = {
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::S3::Bucket": "BucketName",
}


class Resolver:
    """Resolves the intrinsic functions the local stack needs, the way CloudFormation would.

    Only pseudo parameters, Parameters (their Default), and Ref/GetAtt to resources are known
    before a deployment; anything else is a TemplateError naming where it was found.
    """

    def __init__(self, document: dict[str, Any], *, stack_name: str, region: str, account_id: str) -> None:
        self.resources: dict[str, Any] = document.get("Resources") or {}
        self.parameters: dict[str, Any] = document.get("Parameters") or {}
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self._resolving: set[str] = set()

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::StackName": self.stack_name,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/"
                f"{stable_id(self.stack_name, 8, ALPHABET_LOWER)}-0000-0000-0000-000000000000"
            ),
        }.get(name)

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return [self.resolve(item, where) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref":
                return self.ref(argument, where)
            if name == "Fn::GetAtt":
                return self.get_att(argument, where)
            if name == "Fn::Sub":
                return self.sub(argument, where)
            if name == "Fn::Join":
                separator, items = argument
                return str(separator).join(
                    str(self.resolve(item, where)) for item in self.resolve(items, where)
                )
            if name == "Fn::Select":
                index, items = argument
                return self.resolve(items, where)[int(self.resolve(index, where))]
            if name == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text, where)).split(separator)
            if name.startswith("Fn::") or name == "Condition":
                raise TemplateError(f"{where}: {name} cannot be resolved locally")
        return {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}

    def ref(self, target: Any, where: str) -> Any:
        if not isinstance(target, str):
            raise TemplateError(f"{where}: Ref needs a name, got {json.dumps(target)}")
        pseudo = self.pseudo(target)
        if pseudo is not None:
            return pseudo
        if target in self.parameters:
            parameter = self.parameters[target]
            if "Default" not in parameter:
                raise TemplateError(f"{where}: parameter {target} has no Default to run with locally")
            return parameter["Default"]
        if target == IMPLICIT_API:
            return api_id_for(self.stack_name)
        resource = self.resources.get(target)
        if not isinstance(resource, dict):
            raise TemplateError(f"{where}: !Ref {target}: no such resource or parameter")
        kind = resource.get("Type")
        if kind in (DYNAMODB_TABLE, SIMPLE_TABLE):
            return self.table_name(target)
        if kind == FUNCTION:
            return self.function_name(target)
        return self._named(target, _NAME_PROPERTY.get(str(kind)))

    def get_att(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        target, attribute = (self.resolve(part, where) for part in argument)
        resource = self.resources.get(target)
        if not isinstance(resource, dict):
            raise TemplateError(f"{where}: !GetAtt {target}.{attribute}: no such resource")
        kind = resource.get("Type")
        region, account = self.region, self.account_id
        if kind in (DYNAMODB_TABLE, SIMPLE_TABLE):
            table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{self.table_name(target)}"
            if attribute == "Arn":
                return table_arn
            if attribute == "StreamArn":
                return f"{table_arn}/stream/1970-01-01T00:00:00.000"
        elif kind == FUNCTION and attribute == "Arn":
            return f"arn:aws:lambda:{region}:{account}:function:{self.function_name(target)}"
        elif kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{account}:role/{self._named(target, 'RoleName')}"
        elif kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return f"arn:aws:logs:{region}:{account}:log-group:{self._named(target, 'LogGroupName')}:*"
        elif kind == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:aws:sqs:{region}:{account}:{self._named(target, 'QueueName')}"
        elif kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{self._named(target, 'BucketName').lower()}"
        raise TemplateError(f"{where}: !GetAtt {target}.{attribute} ({kind}) cannot be resolved locally")

    def sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, list):
            text, variables = argument
            variables = {name: self.resolve(value, where) for name, value in variables.items()}
        else:
            text, variables = argument, {}
        if not isinstance(text, str):
            raise TemplateError(f"{where}: Fn::Sub needs a string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and self.pseudo(name) is None:
                return str(self.get_att(name.split(".", 1), where))
            return str(self.ref(name, where))

        # `${!Literal}` is written out as `${Literal}`, as CloudFormation does.
        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def table_name(self, logical_id: str) -> str:
        return self._named(logical_id, "TableName")

    def function_name(self, logical_id: str) -> str:
        return self._named(logical_id, "FunctionName")

    def _named(self, logical_id: str, name_property: str | None) -> str:
        """The resource's own name property if the template sets one, else a generated name."""
        props = self.resources[logical_id].get("Properties") or {}
        if name_property and name_property in props:
            if logical_id in self._resolving:
                raise TemplateError(f"{logical_id}.{name_property} refers to itself")
            self._resolving.add(logical_id)
            try:
                return str(self.resolve(props[name_property], f"{logical_id}.{name_property}"))
            finally:
                self._resolving.discard(logical_id)
        return physical_name(self.stack_name, logical_id)


# What `!Ref` returns for resources whose Ref is their name (when the template names them).
_NAME_PROPERTY = {
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::S3::Bucket": "BucketName",
}
