"""The intrinsic functions a template uses, resolved the way CloudFormation would.

Only pseudo parameters, Parameters (their Default, or the value given as an override, as
`sam deploy --parameter-overrides` gives it), Conditions, and Ref/GetAtt to resources are known
before a deployment; anything else is a TemplateError naming where it was found.
"""

import json
import re
from collections.abc import Mapping
from typing import Any

from emulator.app.errors import TemplateError
from emulator.app.resource_names import (
    ALPHABET_LOWER,
    ALPHABET_UPPER,
    DYNAMODB_TABLE,
    FUNCTION,
    IMPLICIT_API,
    LAMBDA_LAYER,
    LAYER_TYPES,
    SERVERLESS_LAYER,
    SIMPLE_TABLE,
    physical_name,
    stable_id,
)

# `!Ref AWS::NoValue`: the property (or list item) it is the value of is removed, as CloudFormation does.
_NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")
REST_API_TYPES = ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi")
HTTP_API_TYPES = ("AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api")
STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
# S3 website endpoints of these regions are s3-website-<region>; of the others, s3-website.<region>.
_S3_WEBSITE_DASH_REGIONS = {
    "us-east-1", "us-west-1", "us-west-2", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
    "eu-west-1", "sa-east-1", "us-gov-west-1",
}  # fmt: skip
# What `!Ref` returns for resources whose Ref is their name (when the template names them).
_NAME_PROPERTY = {
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::IAM::Role": "RoleName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Events::Rule": "Name",
    "AWS::Kinesis::Stream": "Name",
}


class Resolver:
    """Resolves the intrinsic functions the local stack needs, the way CloudFormation would.

    Only pseudo parameters, Parameters (their Default or an override), Conditions, and Ref/GetAtt
    to resources are known before a deployment; anything else is a TemplateError naming where it was
    found.
    """

    def __init__(
        self,
        document: dict[str, Any],
        *,
        stack_name: str,
        region: str,
        account_id: str,
        parameter_overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.resources: dict[str, Any] = document.get("Resources") or {}
        self.parameters: dict[str, Any] = document.get("Parameters") or {}
        self.conditions: dict[str, Any] = document.get("Conditions") or {}
        self.stack_name = stack_name
        self.region = region
        self.account_id = account_id
        self._resolving: set[str] = set()
        self._condition_values: dict[str, bool] = {}
        self._evaluating: set[str] = set()
        self.overrides = dict(parameter_overrides or {})
        for name, value in self.overrides.items():
            # CloudFormation refuses a value for a parameter the template does not declare, and one
            # outside AllowedValues; so does the local stack, rather than run something else.
            if name not in self.parameters:
                declared = ", ".join(self.parameters) or "none"
                raise TemplateError(
                    f"parameter override {name}: no such parameter (the template has: {declared})"
                )
            allowed = (self.parameters[name] or {}).get("AllowedValues")
            if allowed is not None and value not in [str(item) for item in allowed]:
                raise TemplateError(
                    f"parameter override {name}={value}: not one of its AllowedValues "
                    f"({', '.join(str(item) for item in allowed)})"
                )

    def parameter_values(self) -> dict[str, str]:
        """Every parameter that has a value to run with: the override, else the Default."""
        values = {
            name: str(parameter["Default"])
            for name, parameter in self.parameters.items()
            if isinstance(parameter, dict) and "Default" in parameter
        }
        return {**values, **self.overrides}

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
        resolved = self._resolve(value, where)
        return None if resolved is _NO_VALUE else resolved

    def _resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            items = (self._resolve(item, where) for item in value)
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" and argument == "AWS::NoValue":
                return _NO_VALUE
            if name == "Ref":
                return self.ref(argument, where)
            if name == "Fn::If":
                if not isinstance(argument, list) or len(argument) != 3:
                    raise TemplateError(f"{where}: Fn::If needs [condition, value if true, value if false]")
                chosen = argument[1] if self.condition(argument[0], where) else argument[2]
                return self._resolve(chosen, where)
            if name == "Fn::GetAtt":
                return self.get_att(argument, where)
            if name == "Fn::Sub":
                return self.sub(argument, where)
            if name == "Fn::Join":
                separator, items = _pair(name, argument, where)
                resolved = self.resolve(items, where)
                if not isinstance(resolved, list):
                    raise TemplateError(f"{where}: Fn::Join needs a list to join, got {json.dumps(resolved)}")
                return str(separator).join(str(item) for item in resolved)
            if name == "Fn::Select":
                index, items = _pair(name, argument, where)
                return self.select(self.resolve(index, where), self.resolve(items, where), where)
            if name == "Fn::Split":
                separator, text = _pair(name, argument, where)
                return str(self.resolve(text, where)).split(str(separator))
            if name.startswith("Fn::") or name == "Condition":
                raise TemplateError(f"{where}: {name} cannot be resolved locally")
        resolved = {key: self._resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def condition(self, name: Any, where: str) -> bool:
        """The value of the Conditions entry `name`, evaluated once, as CloudFormation does at deploy."""
        if not isinstance(name, str) or name not in self.conditions:
            raise TemplateError(f"{where}: no condition named {json.dumps(name)} in Conditions")
        if name not in self._condition_values:
            if name in self._evaluating:
                raise TemplateError(f"Conditions.{name} refers to itself")
            self._evaluating.add(name)
            try:
                self._condition_values[name] = self._truth(self.conditions[name], f"Conditions.{name}")
            finally:
                self._evaluating.discard(name)
        return self._condition_values[name]

    def _truth(self, value: Any, where: str) -> bool:
        """A condition function (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition) to a boolean."""
        if isinstance(value, dict) and len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Condition":
                return self.condition(argument, where)
            if name == "Fn::Equals":
                left, right = _pair(name, argument, where)
                return _text(self.resolve(left, where)) == _text(self.resolve(right, where))
            if name in ("Fn::Not", "Fn::And", "Fn::Or") and isinstance(argument, list) and argument:
                values = [self._truth(item, where) for item in argument]
                if name == "Fn::Not" and len(values) == 1:
                    return not values[0]
                if name == "Fn::And":
                    return all(values)
                if name == "Fn::Or":
                    return any(values)
        raise TemplateError(f"{where}: not a condition CloudFormation evaluates: {json.dumps(value)}")

    @staticmethod
    def select(index: Any, items: Any, where: str) -> Any:
        """CloudFormation takes the index as a number or a numeric string, from 0, in range."""
        if not isinstance(items, list):
            raise TemplateError(f"{where}: Fn::Select needs a list, got {json.dumps(items)}")
        text = str(index)
        if isinstance(index, bool) or not text.isdigit() or int(text) >= len(items):
            raise TemplateError(
                f"{where}: Fn::Select index {json.dumps(index)} is not in 0..{len(items) - 1}"
            )
        return items[int(text)]

    def ref(self, target: Any, where: str) -> Any:
        if not isinstance(target, str):
            raise TemplateError(f"{where}: Ref needs a name, got {json.dumps(target)}")
        pseudo = self.pseudo(target)
        if pseudo is not None:
            return pseudo
        if target in self.overrides:
            return self.overrides[target]
        if target in self.parameters:
            parameter = self.parameters[target]
            if "Default" not in parameter:
                raise TemplateError(f"{where}: parameter {target} has no Default to run with locally")
            return parameter["Default"]
        if target in (IMPLICIT_API, "ServerlessHttpApi"):
            # The APIs SAM makes for events that name none: not in the template, yet referenced.
            return self.api_id(target)
        resource = self.resources.get(target)
        if not isinstance(resource, dict):
            raise TemplateError(f"{where}: !Ref {target}: no such resource or parameter")
        kind = resource.get("Type")
        if kind in (DYNAMODB_TABLE, SIMPLE_TABLE):
            return self.table_name(target)
        if kind == FUNCTION:
            return self.function_name(target)
        if kind in LAYER_TYPES:
            return self.layer_arn(target)
        if kind == "AWS::SNS::Topic":
            return self._attribute(target, kind, "TopicArn", resource.get("Properties") or {})
        if kind in STATE_MACHINE_TYPES:
            return self._attribute(target, kind, "Arn", resource.get("Properties") or {})
        if kind in REST_API_TYPES or kind in HTTP_API_TYPES:
            return self.api_id(target)
        if kind == "AWS::SQS::Queue":
            # A queue's Ref is its URL, not its name.
            name = self._named(target, "QueueName")
            return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}"
        return self._named(target, _NAME_PROPERTY.get(str(kind)))

    def get_att(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        target, attribute = (self.resolve(part, where) for part in _pair("Fn::GetAtt", argument, where))
        resource = self.resources.get(target)
        if not isinstance(resource, dict):
            role_of = self._implicit_role_of(target)
            if role_of is not None and attribute == "Arn":
                return f"arn:aws:iam::{self.account_id}:role/{physical_name(self.stack_name, target)}"
            raise TemplateError(f"{where}: !GetAtt {target}.{attribute}: no such resource")
        kind = str(resource.get("Type"))
        value = self._attribute(target, kind, str(attribute), resource.get("Properties") or {})
        if value is None:
            raise TemplateError(f"{where}: !GetAtt {target}.{attribute} ({kind}) cannot be resolved locally")
        return value

    def _attribute(self, target: str, kind: str, attribute: str, props: dict[str, Any]) -> str | None:
        """The attribute's value as CloudFormation documents it for the type, with the names and ids
        a deployment would give (stable across runs); None for an attribute not known here."""
        region, account = self.region, self.account_id
        if kind in (DYNAMODB_TABLE, SIMPLE_TABLE):
            table_arn = f"arn:aws:dynamodb:{region}:{account}:table/{self.table_name(target)}"
            # Only a table with a stream has one; CloudFormation refuses the attribute otherwise.
            stream = (
                f"{table_arn}/stream/1970-01-01T00:00:00.000" if props.get("StreamSpecification") else None
            )
            return {"Arn": table_arn, "StreamArn": stream}.get(attribute)
        if kind in (FUNCTION, "AWS::Lambda::Function") and attribute == "Arn":
            return f"arn:aws:lambda:{region}:{account}:function:{self.function_name(target)}"
        if kind == LAMBDA_LAYER and attribute == "LayerVersionArn":
            return self.layer_arn(target)
        if kind == "AWS::IAM::Role":
            role = self._named(target, "RoleName")
            # A role id is AROA and 17 upper-case alphanumerics.
            role_id = "AROA" + stable_id(f"{self.stack_name}/{target}", 17, ALPHABET_UPPER)
            return {"Arn": f"arn:aws:iam::{account}:role/{role}", "RoleId": role_id}.get(attribute)
        if kind == "AWS::Logs::LogGroup" and attribute == "Arn":
            return f"arn:aws:logs:{region}:{account}:log-group:{self._named(target, 'LogGroupName')}:*"
        if kind == "AWS::SQS::Queue":
            queue = self._named(target, "QueueName")
            return {
                "Arn": f"arn:aws:sqs:{region}:{account}:{queue}",
                "QueueName": queue,
                "QueueUrl": f"https://sqs.{region}.amazonaws.com/{account}/{queue}",
            }.get(attribute)
        if kind == "AWS::SNS::Topic":
            topic = self._named(target, "TopicName")
            return {"TopicArn": f"arn:aws:sns:{region}:{account}:{topic}", "TopicName": topic}.get(attribute)
        if kind == "AWS::S3::Bucket":
            bucket = self._named(target, "BucketName")
            # The older regions' website endpoints have a dash before the region, the others a dot.
            website = "-" if region in _S3_WEBSITE_DASH_REGIONS else "."
            return {
                "Arn": f"arn:aws:s3:::{bucket}",
                "DomainName": f"{bucket}.s3.amazonaws.com",
                "DualStackDomainName": f"{bucket}.s3.dualstack.{region}.amazonaws.com",
                "RegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
                "WebsiteURL": f"http://{bucket}.s3-website{website}{region}.amazonaws.com",
            }.get(attribute)
        if kind in REST_API_TYPES:
            if attribute == "RootResourceId":
                return stable_id(f"{self.stack_name}/{target}/root", 10, ALPHABET_LOWER)
            if attribute == "RestApiId":
                return self.api_id(target)
        if kind in HTTP_API_TYPES:
            api = self.api_id(target)
            return {"ApiId": api, "ApiEndpoint": f"https://{api}.execute-api.{region}.amazonaws.com"}.get(
                attribute
            )
        if kind == "AWS::Events::Rule" and attribute == "Arn":
            return f"arn:aws:events:{region}:{account}:rule/{self._named(target, 'Name')}"
        if kind in STATE_MACHINE_TYPES:
            machine = self._named(target, "Name")
            arn = f"arn:aws:states:{region}:{account}:stateMachine:{machine}"
            return {"Arn": arn, "Name": machine}.get(attribute)
        if kind == "AWS::Kinesis::Stream" and attribute == "Arn":
            return f"arn:aws:kinesis:{region}:{account}:stream/{self._named(target, 'Name')}"
        return None

    def api_id(self, logical_id: str) -> str:
        """A REST or HTTP API's id: 10 lower-case alphanumerics, the same on every run."""
        return stable_id(f"{self.stack_name}/{logical_id}", 10, ALPHABET_LOWER)

    def _implicit_role_of(self, target: str) -> str | None:
        """The function whose role `target` is, when SAM makes it: a function without a Role gets
        `<FunctionId>Role`, which a template may GetAtt (its Arn) though it never declares it."""
        function = target[: -len("Role")] if target.endswith("Role") else ""
        resource = self.resources.get(function)
        if (
            isinstance(resource, dict)
            and resource.get("Type") == FUNCTION
            and "Role" not in (resource.get("Properties") or {})
        ):
            return function
        return None

    def sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, list):
            text, variables = _pair("Fn::Sub", argument, where)
            if not isinstance(variables, dict):
                raise TemplateError(f"{where}: Fn::Sub's second item must be a map of variables")
            variables = {name: self.resolve(value, where) for name, value in variables.items()}
        else:
            text, variables = argument, {}
        if not isinstance(text, str):
            raise TemplateError(f"{where}: Fn::Sub needs a string")

        def replace(match: re.Match[str]) -> str:
            literal, name = match.groups()
            if literal:
                # `${!Literal}` is written out as `${Literal}`, as CloudFormation does; in the same
                # pass, so a substituted value is never rewritten.
                return "${" + name + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and self.pseudo(name) is None:
                return str(self.get_att(name.split(".", 1), where))
            return str(self.ref(name, where))

        return _SUB_VARIABLE.sub(replace, text)

    def table_name(self, logical_id: str) -> str:
        return self._named(logical_id, "TableName")

    def function_name(self, logical_id: str) -> str:
        return self._named(logical_id, "FunctionName")

    def layer_arn(self, logical_id: str) -> str:
        """A layer's Ref: its version's ARN, version 1 (the first one a stack publishes). SAM names a
        layer by its logical id unless LayerName says otherwise; CloudFormation generates a name."""
        if self.resources[logical_id].get("Type") == SERVERLESS_LAYER:
            props = self.resources[logical_id].get("Properties") or {}
            name = str(self.resolve(props.get("LayerName") or logical_id, f"{logical_id}.LayerName"))
        else:
            name = self._named(logical_id, "LayerName")
        return f"arn:aws:lambda:{self.region}:{self.account_id}:layer:{name}:1"

    def log_group_name(self, logical_id: str) -> str:
        return self._named(logical_id, "LogGroupName")

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
        generated = physical_name(self.stack_name, logical_id)
        kind = self.resources[logical_id].get("Type")
        # A FIFO queue's name must end in .fifo; CloudFormation's generated one does.
        if kind == "AWS::SQS::Queue" and "FifoQueue" in props:
            fifo = self.resolve(props["FifoQueue"], f"{logical_id}.FifoQueue")
            if fifo is True or str(fifo).lower() == "true":
                return f"{generated}.fifo"
        # S3 bucket names are lower case; CloudFormation generates them so.
        return generated.lower() if kind == "AWS::S3::Bucket" else generated


def _text(value: Any) -> str:
    # CloudFormation compares values as text; YAML's true is "true", not Python's "True".
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _pair(function: str, argument: Any, where: str) -> tuple[Any, Any]:
    """The two items every one of these functions takes, or a TemplateError naming where."""
    if not isinstance(argument, list) or len(argument) != 2:
        raise TemplateError(f"{where}: {function} needs a list of two items, got {json.dumps(argument)}")
    return argument[0], argument[1]
