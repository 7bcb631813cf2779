"""Random traces for property tests: the tutorial traces re-identified, some subsegments sent
on their own, statuses, annotations, users, HTTP fields and in-progress segments at random,
all documents shuffled (documents of one trace arrive in any order)."""

import copy
import random
from typing import Any

from tests.xray.xray_support import fresh_trace

TRACE_FILES = ("tutorial_ddb_trace.json", "tutorial_hello_trace.json")


def split(documents: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Some subsegments sent on their own (as the SDK does for long ones), as X-Ray takes them."""
    out = []
    for document in copy.deepcopy(documents):
        pending = [document]
        while pending:
            parent = pending.pop()
            kept = []
            for child in parent.get("subsegments", []):
                if rng.random() < 0.4:
                    alone = dict(
                        child, type="subsegment", trace_id=document["trace_id"], parent_id=parent["id"]
                    )
                    out.append(alone)
                    pending.append(alone)
                else:
                    kept.append(child)
                    pending.append(child)
            if "subsegments" in parent:
                parent["subsegments"] = kept
        out.append(document)
    return out


def vary(documents: list[dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """Statuses, annotations, users and in-progress segments at random."""
    for document in documents:
        if rng.random() < 0.3:
            document[rng.choice(["error", "fault", "throttle"])] = True
        if rng.random() < 0.3:
            document.setdefault("annotations", {})[rng.choice(["k", "n", "b"])] = rng.choice(
                ["x", "yz", 3, 4.5, True, False]
            )
        if rng.random() < 0.2:
            document["user"] = rng.choice(["alice", "bob"])
        request = document.get("http", {}).get("request")
        if request is not None and rng.random() < 0.5:
            request["url"] = rng.choice(["http://a/Prod/hello", "https://b/Prod/ddb?x=1", ""])
            request["method"] = rng.choice(["GET", "POST", "get"])
        response = document.get("http", {}).get("response")
        if response is not None and rng.random() < 0.5:
            response["status"] = rng.choice([200, 404, 429, 502])
        if rng.random() < 0.1 and document.get("type") != "subsegment":
            document.pop("end_time", None)
            document.pop("subsegments", None)
            document["in_progress"] = True
    return documents


def random_documents(rng: random.Random, traces_count: int) -> list[dict[str, Any]]:
    documents = []
    for _ in range(traces_count):
        trace = fresh_trace(rng.choice(TRACE_FILES), ago=rng.uniform(1, 300))
        documents.extend(vary(split(trace, rng), rng))
    rng.shuffle(documents)
    return documents
