"""(being written: see the issue 11 item 4 work in progress)"""

from emulator.lambda_.event_sources.context import EventSourceContext, Stopper


def start_sqs_pollers(context: EventSourceContext) -> Stopper | None:
    if not context.app.sqs_events:
        return None
    raise NotImplementedError("sqs_events are not run locally yet")
