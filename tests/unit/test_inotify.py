"""The inotify tree watch on real directories: what it reports, what it adds, when it ends."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from sesh_mesh.daemon import inotify, transcripts
from sesh_mesh.daemon.inotify import watch_trees
from tests.polling import scaled


class Seen:
    def __init__(self) -> None:
        self.paths: set[Path] = set()
        self.calls = 0
        self.arrived = asyncio.Event()

    def __call__(self, paths: set[Path]) -> None:
        self.paths |= paths
        self.calls += 1
        self.arrived.set()

    async def until(self, *wanted: Path) -> None:
        async with asyncio.timeout(scaled(5)):
            while not set(wanted) <= self.paths:
                self.arrived.clear()
                await self.arrived.wait()


@asynccontextmanager
async def watching(*roots: Path) -> AsyncIterator[tuple[Seen, asyncio.Event, asyncio.Task[bool]]]:
    seen, stop = Seen(), asyncio.Event()
    async with asyncio.timeout(scaled(30)), asyncio.TaskGroup() as group:
        task = group.create_task(watch_trees(roots, seen, stop), name="test:inotify-watch")
        await asyncio.sleep(0.05)  # armed: the watches are added before the task's first await
        try:
            yield seen, stop, task
        finally:
            stop.set()


async def test_a_write_in_a_watched_tree_wakes_with_its_path_and_stop_ends_the_watch(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    other = tmp_path / "elsewhere"
    other.mkdir()
    async with watching(tmp_path / "a") as (seen, stop, task):
        (nested / "t.jsonl").write_text("{}\n")
        (other / "x").write_text("not watched")
        await seen.until(nested / "t.jsonl")
        assert not any(p.is_relative_to(other) for p in seen.paths)
        stop.set()
        assert await asyncio.wait_for(task, 5) is True


async def test_a_directory_made_later_is_watched_and_what_it_already_holds_is_reported(tmp_path: Path) -> None:
    async with watching(tmp_path) as (seen, _stop, _task):
        day = tmp_path / "2026" / "12" / "01"
        day.mkdir(parents=True)  # codex's layout: three levels made at once
        (day / "rollout.jsonl").write_text("{}\n")
        await seen.until(day / "rollout.jsonl")
        staged = tmp_path.parent / f"{tmp_path.name}-staged"
        staged.mkdir()
        (staged / "early.jsonl").write_text("written before any watch\n")
        os.rename(staged, tmp_path / "moved-in")
        await seen.until(tmp_path / "moved-in" / "early.jsonl")
        (tmp_path / "moved-in" / "early.jsonl").write_text("and changed after\n")
        seen.paths.clear()
        await seen.until(tmp_path / "moved-in" / "early.jsonl")


async def test_a_burst_of_writes_wakes_with_them_together(tmp_path: Path) -> None:
    async with watching(tmp_path) as (seen, _stop, _task):
        files = [tmp_path / f"f{n}" for n in range(50)]
        for path in files:  # no await between: the loop reads them all in one go
            path.write_text("x")
        await seen.until(*files)
        assert seen.calls <= 3, seen.calls


@pytest.mark.parametrize("how", ["deleted", "moved"])
async def test_a_root_deleted_or_moved_ends_the_watch_so_the_caller_re_arms(tmp_path: Path, how: str) -> None:
    root = tmp_path / "data"
    root.mkdir()
    async with watching(root) as (_seen, _stop, task):
        if how == "deleted":
            root.rmdir()
        else:
            root.rename(tmp_path / "elsewhere")  # the watch would follow it there, away from the path
        assert await asyncio.wait_for(task, scaled(5)) is False


async def test_a_tree_too_big_to_watch_reports_everything_once_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(inotify, "MAX_TREE_DIRS", 2)
    for n in range(4):
        (tmp_path / f"d{n}").mkdir()
        (tmp_path / f"d{n}" / "t.jsonl").write_text("{}\n")
    async with watching(tmp_path) as (seen, _stop, _task):
        await seen.until(*(tmp_path / f"d{n}" / "t.jsonl" for n in range(4)))
    assert "directories under" in caplog.text and "the 1 s tick covers the rest" in caplog.text


async def test_a_missing_root_is_no_error_and_watches_nothing(tmp_path: Path) -> None:
    async with watching(tmp_path / "never-made", tmp_path) as (seen, _stop, task):
        (tmp_path / "f").write_text("x")
        await seen.until(tmp_path / "f")
        assert not task.done()


async def test_inotify_that_cannot_start_is_logged_and_tried_again_without_killing_the_watch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """EMFILE from inotify_init1 (fs.inotify.max_user_instances spent): the transcript watch
    says so, the 1 s tick covers the files meanwhile, and the watch is armed again."""
    calls: list[list[Path]] = []
    stop = asyncio.Event()

    async def flaky(roots: list[Path], wake: object, *until: asyncio.Event) -> bool:
        calls.append(list(roots))
        if len(calls) == 1:
            raise OSError(24, "inotify_init1: Too many open files")
        stop.set()
        return True

    monkeypatch.setattr(transcripts, "watch_trees", flaky)
    async with asyncio.timeout(scaled(10)):
        await transcripts.watch_dirs(lambda: [tmp_path], lambda _paths: None, stop, asyncio.Event())
    assert calls == [[tmp_path], [tmp_path]]
    assert "Too many open files" in caplog.text and "the 1 s tick covers it" in caplog.text


async def test_a_full_kernel_queue_reports_every_file_once_and_says_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """More events than the kernel queues for one descriptor, while nothing reads it: the queue
    overflows for real (IN_Q_OVERFLOW), the watch says so and reports every file it holds,
    including one that never changed, since which ones did is lost."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 1_000_000:
        pytest.skip(f"fs.inotify.max_queued_events is {limit}: too many events to overflow it here")
    (tmp_path / "busy").mkdir()
    (tmp_path / "quiet").mkdir()
    busy = [tmp_path / "busy" / "a.jsonl", tmp_path / "busy" / "b.jsonl"]
    quiet = tmp_path / "quiet" / "never-touched.jsonl"
    for path in (*busy, quiet):
        path.write_text("{}\n")
    seen = Seen()
    watch = inotify.TreeWatch([tmp_path], seen)
    try:
        for n in range(limit + 1000):
            os.utime(busy[n % 2])  # alternating: the kernel merges only identical neighbours
        watch.read()
    finally:
        watch.close()
    assert seen.calls == 1
    assert {*busy, quiet} <= seen.paths
    assert "inotify queue overflowed" in caplog.text and "reporting every file once" in caplog.text
