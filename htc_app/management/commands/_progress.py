"""tqdm bars for the backup commands (one bar per phase, closed when the next one starts)."""

from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm


class Bars:
    """A `make_bar(description, total, unit)` factory for htc_app.backup; call close() at the end."""

    def __init__(self, *, disable: bool = False):
        self.disable = disable
        self.current: tqdm | None = None

    def __call__(self, desc: str, total: int, unit: str) -> Callable[[int], None]:
        self.close()
        scale = unit == "B"
        self.current = tqdm(
            desc=desc,
            total=total,
            unit=unit,
            unit_scale=scale,
            unit_divisor=1024 if scale else 1000,
            disable=self.disable,
            dynamic_ncols=True,
        )
        return self.current.update

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None
