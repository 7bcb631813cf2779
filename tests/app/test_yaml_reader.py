"""emulator.app.yaml_reader: CloudFormation YAML, short-form tags in their long form."""

from pathlib import Path

import pytest

from emulator.app.yaml_reader import TemplateSyntaxError, read_template


def read(tmp_path: Path, text: str) -> object:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return read_template(path)


def test_short_forms_become_the_long_forms_sam_build_writes(tmp_path: Path):
    document = read(
        tmp_path,
        "A: !GetAtt Table.StreamArn\n"
        "B: !GetAtt [Table, Arn]\n"
        "C: !Sub 'arn:${AWS::Partition}:x'\n"
        "D: !Join [',', [!Ref Name, b]]\n"
        "E: !Select [0, !Split [',', 'a,b']]\n"
        "F: !Condition IsProd\n",
    )
    assert document == {
        "A": {"Fn::GetAtt": ["Table", "StreamArn"]},
        "B": {"Fn::GetAtt": ["Table", "Arn"]},
        "C": {"Fn::Sub": "arn:${AWS::Partition}:x"},
        "D": {"Fn::Join": [",", [{"Ref": "Name"}, "b"]]},
        "E": {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]},
        "F": {"Condition": "IsProd"},
    }


def test_a_nested_attribute_keeps_its_dots(tmp_path: Path):
    assert read(tmp_path, "A: !GetAtt Db.Endpoint.Address\n") == {
        "A": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}
    }


def test_the_long_form_and_plain_yaml_read_as_they_are(tmp_path: Path):
    text = "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties: {TableName: {Ref: Name}}\n"
    document = read(tmp_path, text)
    assert document == {
        "Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Ref": "Name"}}}}
    }
    assert type(document) is dict


def test_broken_yaml_names_its_line(tmp_path: Path):
    with pytest.raises(TemplateSyntaxError) as raised:
        read(tmp_path, "Resources:\n  Fn: [unclosed\n")
    assert raised.value.line == 3


def test_an_unsafe_python_tag_is_not_constructed(tmp_path: Path):
    with pytest.raises(TemplateSyntaxError):
        read(tmp_path, "A: !!python/object/apply:os.system ['true']\n")
