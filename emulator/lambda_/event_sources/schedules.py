"""(being written: see the issue 11 item 4 work in progress)"""

from emulator.lambda_.event_sources.context import EventSourceContext, Stopper


def start_schedules(context: EventSourceContext) -> Stopper | None:
    if not context.app.schedules:
        return None
    raise NotImplementedError("schedules are not run locally yet")
