"""The terminal service map: the renderer on an AWS-shaped response, and the CLI end to end."""

import json

from rich.console import Console

from console.service_map import fetch_service_graph, main, make_client, render_service_map
from tests.xray.xray_support import DATA, DDB_FUNCTION, find, fresh_trace, send_documents, window


def text_of(renderable) -> str:
    console = Console(record=True, width=220, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_map_renders_a_get_service_graph_response_of_the_aws_shape():
    graph = json.loads((DATA / "aws_get_service_graph.json").read_text())

    lines = text_of(render_service_map(graph)).splitlines()

    tree = [line for line in lines if "req" in line and "·" in line]
    # client -> stage -> AWS::Lambda -> function -> Demo, each one level deeper.
    assert lines[0].strip() == "client"
    order = ["sam-app/Prod (AWS::ApiGateway::Stage)", "(AWS::Lambda)", "(AWS::Lambda::Function)", "Demo ("]
    positions = [next(i for i, line in enumerate(tree) if part in line) for part in order]
    assert positions == sorted(positions)
    indents = [len(tree[i]) - len(tree[i].lstrip(" │├└─")) for i in positions]
    assert indents == sorted(indents) and len(set(indents)) == 4
    # The stage's own statistics, and the function -> Demo edge's (1 fault in 9, 84 ms).
    stage_line = tree[positions[0]]
    assert "10 req · 250.0 ms avg · err 0% · fault 10% · throttle 10%" in stage_line
    assert "9 req · 84.0 ms avg · err 0% · fault 11% · throttle 0%" in tree[positions[3]]
    table = "\n".join(lines)
    assert "Demo" in table and "AWS::DynamoDB::Table" in table


def test_an_empty_graph_says_so():
    assert "no traces" in text_of(render_service_map({"Services": []}))


def test_the_map_draws_the_local_graph_through_boto3(xray_server):
    documents = fresh_trace("tutorial_ddb_trace.json")
    find(documents, "DynamoDB")["fault"] = True
    send_documents(xray_server, documents)

    graph = fetch_service_graph(make_client(xray_server.api_url, "ap-northeast-1"), **_window_args())
    text = text_of(render_service_map(graph))

    assert "sam-app/Prod (AWS::ApiGateway::Stage)" in text
    assert f"{DDB_FUNCTION} (AWS::Lambda::Function)" in text
    assert "Demo (AWS::DynamoDB::Table)  1 req" in text
    assert "fault 100%" in text


def _window_args() -> dict[str, float]:
    bounds = window()
    return {"start": bounds["StartTime"], "end": bounds["EndTime"]}


def test_the_cli_prints_one_line_when_the_endpoint_is_unreachable(capsys, xray_server):
    port = xray_server.tcp_port
    xray_server.stop()  # a port that was just ours, so nothing listens on it

    code = main(["--endpoint-url", f"http://127.0.0.1:{port}", "--minutes", "5"])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("error: cannot reach the local X-Ray")
    assert "Traceback" not in captured.err


def test_the_cli_prints_the_local_map(capsys, xray_server):
    send_documents(xray_server, fresh_trace("tutorial_hello_trace.json"))

    code = main(["--endpoint-url", xray_server.api_url, "--minutes", "10"])

    assert code == 0
    out = capsys.readouterr().out
    assert "client" in out
    assert "sam-app-HelloWorldFunction-Qm7NvB2xK4eP (AWS::Lambda::Function)" in out


def test_without_an_endpoint_the_cli_reads_the_running_stacks_endpoints_file(
    capsys, xray_server, tmp_path, monkeypatch
):
    # A stack started on other ports writes them to build/endpoints.json (--endpoints-file).
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "endpoints.json").write_text(json.dumps({"xray_api": xray_server.api_url}))
    monkeypatch.chdir(tmp_path)
    send_documents(xray_server, fresh_trace("tutorial_hello_trace.json"))

    code = main(["--minutes", "10"])

    assert code == 0, capsys.readouterr().err
    assert "sam-app-HelloWorldFunction-Qm7NvB2xK4eP (AWS::Lambda::Function)" in capsys.readouterr().out


def _client_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "client" in line]


def test_an_aws_graph_with_its_client_node_draws_client_once():
    graph = json.loads((DATA / "aws_get_service_graph.json").read_text())
    assert [service["Type"] for service in graph["Services"]].count("client") == 1

    text = text_of(render_service_map(graph))

    assert [line.strip() for line in _client_lines(text)] == ["client"]
    stage_lines = [line for line in text.splitlines() if "sam-app/Prod (AWS::ApiGateway::Stage)" in line]
    assert len(stage_lines) == 1
    # The client's edge to the stage: 10 calls, 2.5 s in all.
    assert "10 req · 250.0 ms avg" in stage_lines[0]


def test_the_local_graph_has_a_client_node_and_the_map_draws_it_once(xray_server):
    send_documents(xray_server, fresh_trace("tutorial_ddb_trace.json"))

    graph = fetch_service_graph(make_client(xray_server.api_url, "ap-northeast-1"), **_window_args())
    text = text_of(render_service_map(graph))

    assert [service.get("Type") for service in graph["Services"]].count("client") == 1
    assert [line.strip() for line in _client_lines(text)] == ["client"]
    assert sum("sam-app/Prod (AWS::ApiGateway::Stage)" in line for line in text.splitlines()) == 1


def test_a_graph_without_client_nodes_still_gets_one_client_above_its_roots():
    graph = json.loads((DATA / "aws_get_service_graph.json").read_text())
    graph["Services"] = [service for service in graph["Services"] if service.get("Type") != "client"]

    text = text_of(render_service_map(graph))

    assert [line.strip() for line in _client_lines(text)] == ["client"]
    assert "10 req · 250.0 ms avg" in text
