"""Every python example of the documentation runs as written.

The pages are README.md, docs/*.md and examples/*/README.md. ``PAGES`` below lists, for each page,
every one of its ```python blocks in order, each named by its first line, and says what is done
with it:

- ``Run``: the block runs. The ``Run`` blocks of a page run together, in order, as one script in a
  subprocess of their own, on a fresh embedded deployment (``FLOWDECK_HOME`` inside a temporary
  working directory that holds a copy of ``examples/``, as the repository's root does). A failure
  names the page, the block and the error. ``before`` is code run just before
  the block: only what a reader obviously supplies (a CSV file the text names, the ``store`` of a
  step, a frame, a flow to run). ``after`` checks that the block did what the text around it says.
  ``FILES`` holds the files a page's text names (written into the working directory first).
- ``Signature``: a constructor's signature (``Name(param, key=default, ...)``), compared with the
  class's ``__init__`` instead of being run.
- ``Fragment``: not run, for the reason given (an excerpt, a line of a coroutine).

A python block that is not listed, or that no longer starts with the line recorded for it, fails
``test_every_python_block_is_listed``: list it here as one of the three. Examples that need a server
flowdeck does not start itself run here against what the text allows: a warehouse connection is an
SQLite database with the same tables, and the organisation's bucket lives on the loopback S3 server
the tests start (``NEEDS_S3``; its address reaches the page as ``FLOWDECK_S3_ENDPOINT_URL``).
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import flowdeck
import flowdeck.elements
import flowdeck.page
from flowdeck.elements import DEFAULT
from flowdeck.errors import ValidationError
from flowdeck.triggers import AssetTrigger

ROOT = Path(__file__).resolve().parents[1]
#: Pages whose examples read the organisation's bucket: they run against the loopback S3 server.
NEEDS_S3 = frozenset({"docs/object-storage.md"})
OK_MARK = "flowdeck docs examples: all ran"


@dataclass(frozen=True)
class Run:
    """A block that runs, with what a reader supplies before it and what the text says after it."""

    starts: str
    before: str = ""
    after: str = ""


@dataclass(frozen=True)
class Signature:
    """A constructor's signature, compared with the class it names."""

    starts: str


@dataclass(frozen=True)
class Fragment:
    """A block that is not run, and why."""

    starts: str
    reason: str


Entry = Run | Signature | Fragment


@dataclass(frozen=True)
class Block:
    """One ```python block of a page: its code and the page line its code starts on."""

    page: str
    index: int
    line: int
    code: str

    @property
    def first_line(self) -> str:
        """The block's first non-blank line, stripped."""
        return next((line.strip() for line in self.code.splitlines() if line.strip()), "")


_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def doc_pages() -> list[str]:
    """Every page whose python blocks are examples, relative to the repository's root."""
    pages = ["README.md"]
    pages += sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))
    pages += sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "examples").glob("*/README.md"))
    return pages


def python_blocks(page: str) -> list[Block]:
    """The ```python blocks of ``page``, in order."""
    text = (ROOT / page).read_text(encoding="utf-8")
    blocks = []
    for match in _FENCE.finditer(text):
        if match.group(1) == "python":
            line = text.count("\n", 0, match.start(2)) + 1
            blocks.append(Block(page, len(blocks), line, match.group(2)))
    return blocks


# --- what a reader supplies ----------------------------------------------------------------------

_SALES_CSV = "region,product,amount\nnorth,desk,10\nsouth,lamp,5\nnorth,lamp,2.5\n"

#: A module defining the flow "Sales totals" that docs/headless.md registers and runs.
_SALES_FLOW = """\
from flowdeck import Card, DataSource, Dropdown, Flow, Page, Section, Step, StepType, StoreInterface


class Load(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        page = store.get_page()
        inputs = [DataSource(title="Sales", options=["csv"]), Dropdown(["region", "product"], title="Group by")]
        page.add_card_to_section(Card("Inputs", inputs), "")
        store.update_page(page)


class Totals(Step):
    def run(self, flow_metadata):
        store = StoreInterface(**flow_metadata)
        by = store.get_element_value("Load", "Group by")
        store.save_output(store.get_input("Sales").groupby(by)["amount"].sum(), "totals")


sales_totals = Flow(name="Sales totals", description="Sales totals by a column").chain(
    [Load(title="Load", page=Page("Load", [Section("", [])])), Totals(title="Totals", type=StepType.RESULTS)]
)
"""

#: A one-step flow whose run gives a ``StoreInterface`` (or ``flow_metadata``) for ``user``.
_A_STEP = """
import flowdeck
from flowdeck import Flow, Step, StepType, StoreInterface


class Nothing(Step):
    def run(self, flow_metadata):
        pass


def metadata_of_a_step(user):
    flow = Flow(name="A step", description="").chain([Nothing(title="Nothing", type=StepType.RESULTS)])
    run = flowdeck.start(flow, user=user)
    return {"flow_id": run.flow_id, "step_name": "Nothing", "user": user, "is_action": False}
"""

FILES: dict[str, dict[str, str]] = {
    "README.md": {"sales.csv": "region,amount\nnorth,10\nsouth,5\nnorth,2.5\n"},
    "docs/flows.md": {"orders.csv": "order_id,region,amount\n1,north,10\n2,south,5\n"},
    "docs/headless.md": {"sales.csv": _SALES_CSV, "myflows/__init__.py": "", "myflows/sales.py": _SALES_FLOW},
}


def _elements_signatures(*starts: str) -> list[Entry]:
    return [Signature(s) for s in starts]


PAGES: dict[str, list[Entry]] = {
    "README.md": [
        Run(
            "import pandas as pd",
            after="""
                assert run.current_step == "Totals", run.current_step
                totals = StoreInterface(run.flow_id, user="alice").get_input("totals", step_name="Totals")
                assert totals.to_dict() == {"north": 12.5, "south": 5.0}, totals
            """,
        ),
    ],
    "docs/flows.md": [
        Run("import flowdeck"),
        Run(
            'run = flowdeck.start(flow, user="alice")',
            before='data = open("orders.csv", "rb").read()',
            after="""
                assert run.current_step == "Pick", run.current_step
                assert [s.state for s in run.status().steps] == ["complete", "awaiting_input"]
            """,
        ),
    ],
    "docs/assets.md": [
        Run(
            "import flowdeck",
            before=_A_STEP
            + """
import pandas as pd
from flowdeck import Dataset

alice = StoreInterface(**metadata_of_a_step("alice"))
asset_id = alice.save_asset(Dataset(pd.DataFrame({"amount": [1.0, 2.0]}), "sales"))
""",
            after="""
                bob = StoreInterface(**metadata_of_a_step("bob"))
                try:
                    bob.get_asset_by_id(asset_id)
                except flowdeck.NotFoundError:
                    pass
                else:
                    raise AssertionError("bob still sees the asset after unshare_asset")
            """,
        ),
        Run(
            "from sklearn.linear_model import LogisticRegression",
            after="""
                import pandas as pd

                import flowdeck
                from flowdeck import Flow, StepType

                class Customers(Step):
                    def run(self, flow_metadata):
                        store = StoreInterface(**flow_metadata)
                        frame = pd.DataFrame({"tenure": [1, 5, 9, 2, 7, 3], "churn": [1, 0, 0, 1, 0, 1]})
                        store.save_output(frame, "customers")
                        store.save_output(frame.drop(columns=["churn"]), "new customers")

                train = Flow(name="Train", description="").chain(
                    [Customers(title="Customers", type=StepType.RESULTS), Train(title="Train", type=StepType.RESULTS)]
                )
                run = flowdeck.start(train, user="alice")
                run.next()
                model = StoreInterface(run.flow_id, user="alice").get_model("churn-model")
                assert model.accuracy == 0.91 and model.metadata["linked_assets"]["training data"]
                assert StoreInterface(run.flow_id, user="alice").get_dataset("churn-data").predict_cols == ["churn"]
                flowdeck.share_asset(model.id, owner="alice", users=["bob"])

                score = Flow(name="Score", description="").chain(
                    [Customers(title="Customers", type=StepType.RESULTS), Score(title="Score", type=StepType.RESULTS)]
                )
                run = flowdeck.start(score, user="bob")
                run.next()
                predictions = StoreInterface(run.flow_id, user="bob").get_input("predictions", step_name="Score")
                assert len(predictions) == 6
            """,
        ),
    ],
    "docs/connections.md": [
        Run("import flowdeck"),
        Run(
            "store = StoreInterface(**flow_metadata)",
            # The text's "warehouse" is a PostgreSQL server; an SQLite database of that name has the
            # same tables. Bob has a "warehouse" of his own, and alice shares hers with him.
            before=_A_STEP
            + """
import sqlite3

flowdeck.remove_connection("warehouse", owner="alice")
sqlite_dir = flowdeck.get_settings().sqlite_dir
sqlite_dir.mkdir(parents=True, exist_ok=True)
with sqlite3.connect(sqlite_dir / "warehouse.db") as db:
    db.execute("create table orders (id integer, region text, amount real)")
    db.executemany("insert into orders values (?, ?, ?)", [(1, "north", 10.0), (2, "south", 5.0), (3, "north", 2.5)])
    db.execute("create table events (id integer)")
    db.executemany("insert into events values (?)", [(i,) for i in range(250_000)])
for owner in ("alice", "bob"):
    flowdeck.add_connection("warehouse", type="sqlite", owner=owner, database="warehouse.db")
flowdeck.share_connection("warehouse", owner="alice", users=["bob"])
flow_metadata = metadata_of_a_step("bob")
""",
            after="""
                assert orders["id"].tolist() == [1, 3], orders
                assert rows == 2, rows
                assert bob_rows.iloc[0, 0] == 1, bob_rows
            """,
        ),
    ],
    "docs/elements.md": [
        *_elements_signatures(
            "DataSource(",
            "Dropdown(",
            "SingleDropdown(",
            "MultiDropdown(",
            "DataSourceDropdown(",
            "TextInput(",
            "NumericRange(",
            "NumericSlider(",
            "NumericRangeSlider(",
            "DateTimeRange(",
            "Table(",
        ),
        Run(
            "from flowdeck.elements import ColumnField, ColumnGroup, DataGridFeatures, GridColumn, Table",
            before='import pandas as pd\nframe = pd.DataFrame({"region": ["north", "south"], "amount": [1.5, 2.0]})',
        ),
        *_elements_signatures(
            "PlotlyPlot(",
            "Image(",
            "RichText(",
            "Infographic(",
            "InfographData(",
            "Button(*, title, confirmation_text=None",
            "SegmentedControl(*, title, segments",
            "Dashboard(",
            "Row(elements, ratio=None)",
            "Column(elements, ratio=None)",
            "Card(",
            "Container(",
            "Segment(",
            "Section(title, content",
            "Page(title, sections, on_auto_refresh=None)",
        ),
    ],
    "docs/executors.md": [
        Run(
            "from flowdeck.flow.executors import get_executor",
            before=_A_STEP + '\nflow = Flow(name="Hello", description="").chain([Nothing(title="Hello")])',
            after="""
                assert not executor.is_busy(run.flow_id)
                assert flowdeck.open_run(run.flow_id, user="alice").current_step == "Hello"
            """,
        ),
    ],
    "docs/headless.md": [
        Run(
            "import flowdeck",
            after='assert [f.name for f in flowdeck.list_registered_flows()] == ["Sales totals"]',
        ),
        Run(
            "flow_id = flowdeck.run_headless(",
            after="""
                from flowdeck import StoreInterface

                assert flowdeck.open_run(flow_id, user="alice").status().state == "complete"
                totals = StoreInterface(flow_id, user="alice").get_input("totals", step_name="Totals")
                assert totals.to_dict() == {"north": 12.5, "south": 5.0}, totals
            """,
        ),
        Fragment("from flowdeck import trigger_flow_execution", "`await` of a step's own coroutine"),
        Run("from flowdeck.triggers import ("),
        Fragment("# flows/report.py: at module level", "`report.chain([...])`: the app's steps are left out"),
        Run("flowdeck.add_notification("),
        Run("flowdeck.set_smtp_server(", before='flowdeck.add_user("root", role="admin")'),
        Run(
            "import sqlalchemy as sa",
            before=_A_STEP
            + """
import pandas as pd

store = StoreInterface(**metadata_of_a_step("alice"))
frame = pd.DataFrame(
    {
        "row_id": range(1, 101),
        "customer": [i % 60 for i in range(100)],
        "amount": [3.0 * i for i in range(100)],
        "tags": [["new"] if i % 2 else ["old", "vip"] for i in range(100)],
    }
)
""",
            after="""
                assert mine["customer"].tolist() == [7, 7], mine
                assert len(totals) == 60 and len(big) == 56, (totals, big)
            """,
        ),
    ],
    "docs/interactivity.md": [
        Fragment("@page_update_callback", "an excerpt of examples/interactive/flow.py, which block 1 runs"),
        Run(
            "import flowdeck",
            after="""
                assert msg == "Sent a note to the team about 8 orders", msg
                assert run.current_step == "Report", run.current_step
            """,
        ),
        Run("from flowdeck.elements.callbacks import page_update_callback"),
    ],
    "docs/object-storage.md": [
        Run(
            'store = StoreInterface(**flow_metadata, bucket_name="sales-exports")',
            # The organisation's bucket, on the tests' loopback S3 server.
            before=_A_STEP
            + """
import io
import json
import warnings

import os

import boto3
import pandas as pd

warnings.simplefilter("ignore")  # the AWS profile "govcloud" is missing here, as the text says it may be
s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=os.environ["FLOWDECK_S3_ENDPOINT_URL"])
try:
    s3.create_bucket(Bucket="sales-exports")
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
parquet = io.BytesIO()
pd.DataFrame({"region": ["north", "south"], "amount": [1.5, 2.0]}).to_parquet(parquet)
s3.put_object(Bucket="sales-exports", Key="2024/orders.parquet", Body=parquet.getvalue())
s3.put_object(Bucket="sales-exports", Key="config/regions.json", Body=json.dumps(["north", "south"]).encode())
s3.put_object(Bucket="sales-exports", Key="models/model.bin", Body=b"\\x00model")
flow_metadata = metadata_of_a_step("alice")
""",
            after="""
                assert frame["amount"].tolist() == [1.5, 2.0], frame
                assert config == ["north", "south"], config
                assert raw.getvalue() == b"\\x00model", raw
            """,
        ),
    ],
    "docs/sdk-compatibility.md": [Run("from virtualitics_sdk import App, Step, StepType")],
    "docs/storage.md": [
        Run(
            'store.get_input("sales", columns=["region", "amount"])',
            before=_A_STEP
            + """
import numpy as np
import pandas as pd


class Sales(Step):
    def run(self, flow_metadata):
        n = 3_000
        sales = pd.DataFrame({"region": np.where(np.arange(n) % 2, "north", "south"), "amount": np.arange(n) * 1.5})
        StoreInterface(**flow_metadata).save_output(sales.assign(units=1), "sales")


run = flowdeck.start(
    Flow(name="Sales", description="").chain([Sales(title="Sales", type=StepType.RESULTS), Nothing(title="Report")]),
    user="alice",
)
run.next()
store = StoreInterface(run.flow_id, user="alice")  # a step after the one that saved "sales"
""",
        ),
    ],
    "examples/interactive/README.md": [
        Run("import flowdeck", after='assert run.current_step == "Report", run.current_step'),
    ],
}


# --- the script of a page ------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """A stretch of a page's script: where it starts there, what it is, and the page line it comes from."""

    start: int
    length: int
    label: str
    page_line: int | None


def page_script(page: str) -> tuple[str, list[Part]]:
    """The script that runs ``page``'s ``Run`` blocks in order, and where each part of it comes from."""
    lines: list[str] = []
    parts: list[Part] = []

    def add(code: str, label: str, page_line: int | None = None) -> None:
        code = textwrap.dedent(code).strip("\n")
        if not code:
            return
        chunk = code.splitlines()
        parts.append(Part(len(lines) + 1, len(chunk), label, page_line))
        lines.extend(chunk)

    for block, entry in zip(python_blocks(page), PAGES[page], strict=True):
        if not isinstance(entry, Run):
            continue
        where = f"block {block.index} ({page}:{block.line}, `{block.first_line}`)"
        add(entry.before, f"what is supplied before {where}")
        add(block.code, where, block.line)
        add(entry.after, f"the check after {where}")
    add(f"print({OK_MARK!r})", "the end of the script")
    return "\n".join(lines) + "\n", parts


def failure_report(page: str, script: Path, parts: list[Part], result: subprocess.CompletedProcess[str]) -> str:
    """Which block failed (the last frame of the script in the traceback), with the error."""
    frames = [int(n) for n in re.findall(rf'File "{re.escape(str(script))}", line (\d+)', result.stderr)]
    where = "the script (no traceback)"
    if frames:
        line = frames[-1]
        part = next((p for p in parts if p.start <= line < p.start + p.length), None)
        if part is not None:
            where = part.label
            if part.page_line is not None:
                where += f", at {page}:{part.page_line + line - part.start}"
    errors = [ln for ln in result.stderr.strip().splitlines() if ln and not ln.startswith(" ")]
    error = errors[-1] if errors else f"exit code {result.returncode}"
    tail = "\n".join(result.stderr.strip().splitlines()[-30:])
    stdout = result.stdout[-2000:]
    return f"{page}: {where} failed:\n  {error}\n--- stderr (last lines) ---\n{tail}\n--- stdout ---\n{stdout}"


def run_page(page: str, workdir: Path, extra_env: dict[str, str] | None = None) -> None:
    """Run ``page``'s examples in ``workdir`` on a fresh embedded deployment; fail naming the block.

    ``extra_env``: settings the page's stand-ins need (the loopback S3 server's address).
    """
    shutil.copytree(ROOT / "examples", workdir / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in FILES.get(page, {}).items():
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    code, parts = page_script(page)
    script = workdir / "page_examples.py"
    script.write_text(code, encoding="utf-8")
    # Only this deployment's settings; dummy AWS credentials, so no example can reach a real account.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWDECK_", "AWS_"))}
    env.update(
        FLOWDECK_HOME=str(workdir / "flowdeck-home"),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(workdir / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "no-aws-credentials"),
    )
    env.update(extra_env or {})
    result = subprocess.run(
        [sys.executable, str(script)], cwd=workdir, env=env, capture_output=True, text=True, timeout=180
    )
    if result.returncode != 0 or OK_MARK not in result.stdout:
        pytest.fail(failure_report(page, script, parts, result), pytrace=False)


# --- signatures ----------------------------------------------------------------------------------

_REQUIRED = "<required>"


def documented_parameters(code: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The class name and (name, kind, default) of each parameter a signature block shows."""
    function = ast.parse(f"def {code.strip()}: ...").body[0]
    assert isinstance(function, ast.FunctionDef)
    arguments = function.args

    def default(node: ast.expr | None) -> str:
        if node is None:
            return _REQUIRED
        if isinstance(node, ast.Constant) and node.value is Ellipsis:
            return "..."
        return repr(ast.literal_eval(node))

    positional = arguments.posonlyargs + arguments.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(arguments.defaults))
    defaults += arguments.defaults
    out = [(a.arg, "positional", default(d)) for a, d in zip(positional, defaults, strict=True)]
    if arguments.vararg is not None:
        out.append((arguments.vararg.arg, "*args", _REQUIRED))
    out += [(a.arg, "keyword", default(d)) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)]
    if arguments.kwarg is not None:
        out.append((arguments.kwarg.arg, "**kwargs", _REQUIRED))
    return function.name, out


def actual_parameters(cls: type) -> list[tuple[str, str, str]]:
    """(name, kind, default) of each parameter of ``cls.__init__``, in the form the docs show it."""
    kinds = {
        inspect.Parameter.POSITIONAL_ONLY: "positional",
        inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional",
        inspect.Parameter.VAR_POSITIONAL: "*args",
        inspect.Parameter.KEYWORD_ONLY: "keyword",
        inspect.Parameter.VAR_KEYWORD: "**kwargs",
    }
    out = []
    for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if parameter.default is inspect.Parameter.empty:
            default = _REQUIRED
        elif parameter.default is DEFAULT:
            default = "..."
        else:
            default = repr(parameter.default)
        out.append((parameter.name, kinds[parameter.kind], default))
    return out


def documented_class(name: str) -> type:
    """The class a signature block names, from flowdeck's public modules."""
    for module in (flowdeck, flowdeck.elements, flowdeck.page):
        if isinstance(getattr(module, name, None), type):
            return getattr(module, name)
    raise AssertionError(f"a signature block names {name!r}, which flowdeck does not export")


# --- the tests -----------------------------------------------------------------------------------


def test_every_python_block_is_listed() -> None:
    problems = []
    for page in doc_pages():
        blocks = python_blocks(page)
        entries = PAGES.get(page, [])
        if len(blocks) != len(entries):
            problems.append(f"{page} has {len(blocks)} python blocks, PAGES lists {len(entries)}")
            continue
        for block, entry in zip(blocks, entries, strict=True):
            if not block.first_line.startswith(entry.starts):
                problems.append(
                    f"{page}:{block.line}: block {block.index} starts `{block.first_line}`, "
                    f"PAGES expects `{entry.starts}`"
                )
    assert set(PAGES) <= set(doc_pages()), f"PAGES names pages that do not exist: {set(PAGES) - set(doc_pages())}"
    assert not problems, "\n".join(problems)


def test_signature_blocks_match_the_constructors() -> None:
    problems = []
    for page, entries in PAGES.items():
        for block, entry in zip(python_blocks(page), entries, strict=True):
            if isinstance(entry, Signature):
                name, documented = documented_parameters(block.code)
                actual = actual_parameters(documented_class(name))
                if documented != actual:
                    problems.append(f"{page}:{block.line}: {name}\n  documented: {documented}\n  constructor: {actual}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", [p for p, entries in PAGES.items() if any(isinstance(e, Run) for e in entries)])
def test_page_examples_run(page: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    extra_env = {}
    if page in NEEDS_S3:
        extra_env["FLOWDECK_S3_ENDPOINT_URL"] = request.getfixturevalue("s3_server").endpoint_url
    run_page(page, tmp_path, extra_env)


def test_a_trigger_refuses_input_parameters_that_are_not_a_dict() -> None:
    trigger = AssetTrigger("new scores", label="scores")
    with pytest.raises(ValidationError, match=r"input_parameters must be a dict like \{'steps'.*got set"):
        trigger.configure("Report", user_id="alice", input_parameters={...})
    assert trigger.app_id is None  # nothing was configured
