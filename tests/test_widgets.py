"""The inspector and crash controls work when their buttons are clicked (callbacks run for real)."""

import asyncio
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
from dbos import DBOS, SetWorkflowID

from booktools import Worker
from booktools.widgets import CrashControls, WorkflowInspector


def run_in_own_loop(coroutine):
    """Like asyncio.run, but in a thread: other tests (Playwright) may hold this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture
def dbos_app(tmp_path):
    DBOS.destroy()

    DBOS(config={
        "name": "widget-tests", "system_database_url": f"sqlite:///{tmp_path / 'sys.sqlite'}",
        "log_level": "WARNING", "application_version": "1",
    })
    DBOS.launch()
    yield inspected_workflow
    DBOS.destroy()


@DBOS.step()
def inspected_step(x):
    return x * 2


@DBOS.workflow()
def inspected_workflow(x):
    return inspected_step(x) + inspected_step(x + 1)


def test_inspector_lists_workflows_and_their_steps(dbos_app):
    assert dbos_app(5) == 22

    async def scenario():
        inspector = WorkflowInspector(DBOS)
        inspector.refresh_button.click()  # schedules a refresh, as a click in JupyterLab does
        await asyncio.sleep(0.5)
        return inspector

    inspector = run_in_own_loop(scenario())
    assert "inspected_workflow" in inspector.table.value and "SUCCESS" in inspector.table.value
    assert inspector.steps.value.count("inspected_step") == 2
    assert "10" in inspector.steps.value and "12" in inspector.steps.value
    assert inspector._repr_mimebundle_()["text/plain"] == "WorkflowInspector(1 workflows)"


def test_the_steps_shown_are_those_of_the_workflow_chosen_last(dbos_app):
    """Steps read for an earlier choice that arrive late do not replace the chosen one's."""
    dbos_app(1)
    with SetWorkflowID("two-steps"):
        dbos_app(2)

    class SlowForOthers:  # DBOS, but the first workflow's steps arrive late
        def __getattr__(self, name):
            return getattr(DBOS, name)

        async def list_workflow_steps_async(self, workflow_id):
            if workflow_id != "two-steps":
                await asyncio.sleep(0.3)
            return await DBOS.list_workflow_steps_async(workflow_id)

    async def scenario():
        inspector = WorkflowInspector(SlowForOthers())
        inspector.selector.options = ["first", "two-steps"]
        inspector.selector.value = "first"  # schedules the slow read, as a click would
        inspector.selector.value = "two-steps"
        await inspector.show_steps("two-steps")
        await asyncio.sleep(0.5)  # the slow read has finished by now
        return inspector

    inspector = run_in_own_loop(scenario())
    assert inspector.steps.value.count("inspected_step") == 2, inspector.steps.value


def test_refresh_says_why_it_failed_when_dbos_is_gone(dbos_app):
    """After DBOS.destroy(), Refresh says DBOS is not running, instead of silently nothing."""
    dbos_app(2)
    DBOS.destroy()

    async def scenario():
        inspector = WorkflowInspector(DBOS)
        inspector.refresh_button.click()
        await asyncio.sleep(0.3)
        return inspector

    inspector = run_in_own_loop(scenario())
    assert "Refresh failed" in inspector.summary.value
    assert "DBOS is not running in this kernel" in inspector.summary.value


def test_auto_refresh_stops_when_nothing_is_running(dbos_app):
    dbos_app(1)

    async def scenario():
        inspector = WorkflowInspector(DBOS)
        await asyncio.wait_for(inspector.auto_refresh(every=0.05), timeout=5)
        return inspector

    inspector = run_in_own_loop(scenario())
    assert not inspector.auto_toggle.value and "SUCCESS" in inspector.table.value


def test_crash_controls_start_kill_and_restart_a_worker(tmp_path):
    (tmp_path / "worker.py").write_text(textwrap.dedent("""
        import time
        with open("ledger.txt", "a") as f:
            f.write("started\\n")
        print("ready", flush=True)
        time.sleep(60)
    """))
    controls = CrashControls(Worker("worker.py", cwd=tmp_path), ledger=tmp_path / "ledger.txt",
                             ready_line="ready")
    assert "stopped" in controls.status.value and controls.kill_button.disabled
    controls.start_button.click()
    assert controls.worker.running and "running" in controls.status.value
    first_pid = controls.worker.proc.pid
    controls.kill_button.click()
    assert not controls.worker.running and controls.worker.proc.returncode == -9
    controls.restart_button.click()
    assert controls.worker.running and controls.worker.proc.pid != first_pid
    assert "ledger</b> (2 lines)" in controls.output.value
    assert controls.events == ["started", "killed with SIGKILL", "restarted"]
    controls.kill_button.click()
