"""emulator.app.apis via load_app: the APIs SAM would create, their Globals, and bad API input."""

import textwrap
from pathlib import Path

import pytest

from emulator.app.model import Route
from emulator.app.template import TemplateError, load_app


def write_app(tmp_path: Path, body: str) -> Path:
    (tmp_path / "fn").mkdir(exist_ok=True)
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    template = tmp_path / "template.yaml"
    header = "AWSTemplateFormatVersion: '2010-09-09'\nTransform: AWS::Serverless-2016-10-31\n"
    template.write_text(header + body)
    return template


FUNCTION = """
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.11
      Events:
"""


def test_globals_reach_the_implicit_rest_and_http_apis(tmp_path):
    globals_ = textwrap.dedent(
        """\
        Globals:
          Api:
            Cors: "'*'"
            BinaryMediaTypes: [image~1png, "*~1*"]
            Variables: {mode: local}
          HttpApi:
            CorsConfiguration: true
            StageVariables: {tier: free}
        """
    )
    events = """\
        Rest: {Type: Api, Properties: {Path: /r, Method: get}}
        Http: {Type: HttpApi, Properties: {Path: /h, Method: get}}
        Catch: {Type: HttpApi}
"""
    template = write_app(tmp_path, globals_ + "Resources:" + FUNCTION + events)
    app = load_app(template)
    rest, http = app.apis["ServerlessRestApi"], app.apis["ServerlessHttpApi"]
    assert (rest.kind, rest.stage, rest.name) == ("REST", "Prod", "sam-app")
    assert rest.cors is not None and rest.cors.allow_origins == ("*",)
    assert rest.binary_media_types == ("image/png", "*/*")
    assert rest.stage_variables == {"mode": "local"}
    assert (http.kind, http.stage, http.tracing) == ("HTTP", "$default", False)
    assert http.cors is not None and http.cors.allow_origins == ("*",)
    assert http.stage_variables == {"tier": "free"}
    assert Route("ANY", "$default", "Fn", "ServerlessHttpApi", "2.0") in app.routes
    assert rest.api_id != http.api_id


@pytest.mark.parametrize(
    ("events", "extra", "message"),
    [
        ("E: {Type: Api, Properties: {RestApiId: !Ref Nope, Path: /x, Method: get}}", "",
         "is not a AWS::Serverless::Api"),
        ("E: {Type: HttpApi, Properties: {Path: /x, Method: get, PayloadFormatVersion: '3.0'}}", "",
         "1.0 or 2.0"),
        ("E: {Type: Api, Properties: {RestApiId: !Ref A, Path: /x, Method: get, Auth: {Authorizer: Nope}}}",
         "  A: {Type: AWS::Serverless::Api, Properties: {StageName: s}}", "Nope is not an authorizer"),
        ("E: {Type: Api, Properties: {RestApiId: !Ref A, Path: /x, Method: get}}",
         "  A: {Type: AWS::Serverless::Api, Properties: {StageName: 'bad stage'}}", "StageName"),
    ],
)  # fmt: skip
def test_bad_api_input_stops_with_one_clear_line(tmp_path, events, extra, message):
    template = write_app(tmp_path, "Resources:" + FUNCTION + "        " + events + "\n" + extra + "\n")
    with pytest.raises(TemplateError, match=message):
        load_app(template)


def test_event_properties_not_emulated_are_named(tmp_path):
    events = """\
        Rest:
          Type: Api
          Properties:
            {Path: /r, Method: get, RequestParameters: [method.request.header.X], Auth: {ResourcePolicy: {}}}
        Http:
          Type: HttpApi
          Properties: {Path: /h, Method: get, Auth: {AuthorizationScopes: [read]}, TimeoutInMillis: 5000}
"""
    app = load_app(write_app(tmp_path, "Resources:" + FUNCTION + events))
    named = {"Fn.Events.Rest.RequestParameters", "Fn.Events.Rest.Auth.ResourcePolicy",
             "Fn.Events.Http.Auth.AuthorizationScopes", "Fn.Events.Http.TimeoutInMillis"}  # fmt: skip
    assert named <= set(app.ignored)


def test_an_http_route_naming_an_undeclared_authorizer_is_refused(tmp_path):
    events = """        Http:
          Type: HttpApi
          Properties: {Path: /h, Method: get, Auth: {Authorizer: OAuth2}}
"""
    with pytest.raises(TemplateError, match=r"Http\.Auth\.Authorizer: OAuth2 is not an authorizer"):
        load_app(write_app(tmp_path, "Resources:" + FUNCTION + events))


def test_http_api_definition_body_aws_proxy_routes(tmp_path):
    api = """\
  Spec:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionBody:
        openapi: '3.0.1'
        info: {title: spec, version: '1.0'}
        paths:
          /things/{id}:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                payloadFormatVersion: '1.0'
                uri: !GetAtt Fn.Arn
          $default:
            x-amazon-apigateway-any-method:
              x-amazon-apigateway-integration:
                type: aws_proxy
                uri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/\
                  ${Fn.Arn}/invocations"
"""
    app = load_app(
        write_app(
            tmp_path,
            "Resources:" + FUNCTION + "        H: {Type: Api, Properties: {Path: /x, Method: get}}\n" + api,
        )
    )
    assert Route("GET", "/things/{id}", "Fn", "Spec", "1.0") in app.routes
    assert Route("ANY", "$default", "Fn", "Spec", "2.0") in app.routes
    assert app.apis["Spec"].kind == "HTTP"


def test_rest_definition_body_binary_types_are_read_and_its_security_named(tmp_path):
    api = """\
  Spec:
    Type: AWS::Serverless::Api
    Properties:
      StageName: s
      DefinitionBody:
        swagger: '2.0'
        info: {title: spec, version: '1.0'}
        x-amazon-apigateway-binary-media-types: [application/pdf]
        x-amazon-apigateway-gateway-responses: {}
        securityDefinitions: {key: {type: apiKey, name: x-api-key, in: header}}
        paths:
          /doc:
            get:
              security: [{key: []}]
              x-amazon-apigateway-integration: {type: aws_proxy, httpMethod: POST, uri: !GetAtt Fn.Arn}
"""
    events = "        H: {Type: Api, Properties: {Path: /x, Method: get}}\n"
    app = load_app(write_app(tmp_path, "Resources:" + FUNCTION + events + api))
    assert app.apis["Spec"].binary_media_types == ("application/pdf",)
    assert Route("GET", "/doc", "Fn", "Spec") in app.routes
    named = {
        "Spec.DefinitionBody.x-amazon-apigateway-gateway-responses",
        "Spec.DefinitionBody.securityDefinitions",
        "Spec.DefinitionBody.paths./doc.get.security (the route is served without it)",
    }
    assert named <= set(app.ignored)
