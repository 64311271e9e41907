"""A test hook shared by the resume tests: ask the search to stop just before step ``step`` of ``epoch``."""
from dartslib.hooks import SearchHook


class StopAt(SearchHook):
    """Set ``.search`` to the :class:`~dartslib.engine.loop.Search` it belongs to before running it."""

    def __init__(self, epoch, step):
        self.epoch, self.step, self.search = epoch, step, None

    def before_step(self, model, ctx):
        if (ctx.epoch, ctx.step) == (self.epoch, self.step):
            self.search.request_stop()
