"""The writer: golden output, determinism, every serializable value round-trips, ruff-clean."""

from __future__ import annotations

import datetime
import decimal
import difflib
import enum
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tortoise_march_ext import migrations
from tortoise_march_ext.exceptions import SerializationError
from tortoise_march_ext.files.loader import checksum
from tortoise_march_ext.files.serializer import Imports, serialize
from tortoise_march_ext.files.writer import describe_operations, render_migration
from tortoise_march_ext.schema import fields

GOLDEN = Path(__file__).parent / "golden"


def contact_operations() -> list[migrations.Operation]:
    return [
        migrations.AddField(
            model="Contact", name="email", field=fields.CharField(max_length=100, default="")
        ),
    ]


def every_value_operations() -> list[migrations.Operation]:
    values = {
        "text": 'it\'s "quoted"\nnew line\\ and tab\t',
        "number": -3,
        "ratio": 2.5,
        "flag": True,
        "money": decimal.Decimal("12.50"),
        "whole": decimal.Decimal("7"),
        "day": datetime.date(2024, 2, 29),
        "moment": datetime.datetime(2024, 2, 29, 12, 30, 5, 7, tzinfo=datetime.timezone.utc),
        "naive": datetime.datetime(2024, 1, 1, 0, 0),
        "clock": datetime.time(8, 15, 0, 250),
        "span": datetime.timedelta(days=2, seconds=5, microseconds=3),
        "uid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "payload": {"a": [1, None, False], "b": {"nested": ("x",)}},
        "raw": b"\x00\xffbytes\"'",
    }
    return [
        migrations.CreateModel(
            name="Everything",
            table="everything",
            fields=[("id", fields.BigIntField(primary_key=True))]
            + [(name, fields.JSONField(null=True, default=v)) for name, v in values.items()],
            indexes=[fields.Index(fields=["flag", "day"], name="every_idx", index_type="BTREE")],
            unique_together=[("text", "number")],
            constraints=[
                fields.CheckConstraint(check="number > -10", name="number_check"),
                fields.UniqueConstraint(fields=["uid"], name="uid_uniq", condition="flag"),
            ],
            description="All the values",
        ),
        migrations.AddField(
            model="Everything",
            name="parent",
            field=fields.ForeignKeyField(
                "app.Everything", null=True, on_delete="SET NULL", db_default=fields.Now()
            ),
        ),
        migrations.RunSQL(sql=["SELECT 1", "SELECT 2"], reverse_sql="SELECT 3"),
    ]


def render(operations: list[migrations.Operation], initial: bool = False) -> str:
    deps = [] if initial else [("contacts", "0001_initial"), ("other", "0003_more")]
    return render_migration(describe_operations(operations), deps, operations, initial=initial)


def test_matches_the_contract_example_byte_for_byte() -> None:
    assert render(contact_operations()) == (GOLDEN / "0002_contact_email.py").read_text()


def test_every_value_golden() -> None:
    assert render(every_value_operations(), True) == (GOLDEN / "0001_every_value.py").read_text()


@pytest.mark.parametrize("factory", [contact_operations, every_value_operations])
def test_round_trip_rebuilds_equal_operations(factory) -> None:  # type: ignore[no-untyped-def]
    namespace: dict[str, object] = {}
    exec(compile(render(factory()), "<migration>", "exec"), namespace)  # noqa: S102
    migration = namespace["Migration"]
    assert list(migration.operations) == factory()  # type: ignore[attr-defined]


# Run in a fresh interpreter: makemigrations for two model versions of two apps, then print
# every file written. Sets and dicts of names (imports, model and field keys, dependencies) iterate
# in an order that follows PYTHONHASHSEED; only sorting makes the output the same for every seed.
MAKE_TWICE = """
import asyncio, sys
from pathlib import Path

from tortoise_march_ext import commands
from tortoise_march_ext.config import MarchConfig

root = Path(sys.argv[1])
sys.path.insert(0, str(root))
for version in ("v1", "v2"):
    config = MarchConfig(
        location=root / "migrations",
        root=root,
        tortoise_config={
            "connections": {"default": "sqlite://:memory:"},
            "apps": {
                app: {"models": [f"{app}_{version}"], "default_connection": "default"}
                for app in ("crm", "shop")
            },
        },
    )
    questioner = commands.make_questioner(noinput=True)
    asyncio.run(commands.makemigrations(config, questioner=questioner))
for path in sorted((root / "migrations").rglob("0*.py")):
    sys.stdout.write(f"## {path.relative_to(root).as_posix()}\\n{path.read_text()}")
"""


LETTERS = "ABCDEFGH"


def crm_v2(number: int, letter: str) -> str:
    """Return a model with many new fields, an index, a unique group and a relation."""
    from tests.scenarios import ID, model

    low = letter.lower()
    body = [ID, "label = fields.CharField(max_length=30, db_index=True, default='')"]
    body += [f"{f}_{low} = fields.IntField(default={n})" for n, f in enumerate("pqrstu")]
    peer = LETTERS[number - 1]
    body.append(f"peer = fields.ForeignKeyField('crm.Crm{peer}', null=True, related_name='p{low}')")
    meta = f"unique_together = (('label', 'p_{low}'),)\nindexes = (('q_{low}', 'r_{low}'),)"
    return model(f"Crm{letter}", "\n".join(body), meta)


def shop_v2(number: int, letter: str) -> str:
    """Return a model with a relation, a many-to-many and a dict default."""
    from tests.scenarios import ID, model

    low, other = letter.lower(), LETTERS[-number - 1]
    body = [
        ID,
        f"owner = fields.ForeignKeyField('crm.Crm{letter}', related_name='shops_{low}', null=True)",
        f"tags = fields.ManyToManyField('crm.Crm{other}', related_name='tagged_{low}')",
        "payload = fields.JSONField(default={'b': 1, 'a': [1, 2], 'c': {'z': 0, 'y': 1}})",
        "price = fields.DecimalField(max_digits=6, decimal_places=2, default=decimal.Decimal(1))",
        "day = fields.DateField(default=datetime.date(2024, 1, 2))",
        f"uid = fields.UUIDField(default=uuid.UUID(int={number}), unique=False)",
    ]
    return model(f"Shop{letter}", "\n".join(body))


def hash_seed_models() -> dict[str, str]:
    """Return two versions of two apps with many models, fields, indexes and relations."""
    from tests.scenarios import ID, model, models

    name = "name = fields.CharField(max_length=20)"
    return {
        "crm_v1": models(*(model(f"Crm{c}", f"{ID}\n{name}") for c in LETTERS)),
        "shop_v1": models(model("ShopA", ID)),
        "crm_v2": models(*(crm_v2(n, c) for n, c in enumerate(LETTERS))),
        "shop_v2": "import datetime, decimal, uuid\n"
        + models(*(shop_v2(n, c) for n, c in enumerate(LETTERS))),
    }


def make_under_hash_seed(tmp_path: Path, seed: str) -> str:
    root = tmp_path / f"seed-{seed}"
    root.mkdir()
    for module, source in hash_seed_models().items():
        (root / f"{module}.py").write_text(source)
    proc = subprocess.run(
        [sys.executable, "-c", MAKE_TWICE, str(root)],
        capture_output=True,
        check=False,
        env={**os.environ, "PYTHONHASHSEED": seed, "TORTOISE_MARCH_ON_DRIFT": "ignore"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.count(b"## migrations/") == 4, proc.stdout.decode()
    return proc.stdout


def test_output_is_the_same_under_every_hash_seed(tmp_path: Path) -> None:
    first, second = (make_under_hash_seed(tmp_path, seed) for seed in ("1", "2"))
    difference = difflib.unified_diff(
        first.decode().splitlines(), second.decode().splitlines(), "seed 1", "seed 2", lineterm=""
    )
    assert first == second, "\n".join(difference)


def test_generated_files_pass_ruff_untouched(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(render(contact_operations()))
    (tmp_path / "b.py").write_text(render(every_value_operations(), True))
    for args in (["check", "--isolated"], ["format", "--isolated", "--check"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args, str(tmp_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def wide_operations() -> list[migrations.Operation]:
    """Return operations whose lines fit by characters but not by width (CJK counts two)."""
    return [
        migrations.CreateModel(
            name="Shelf",
            table="图书馆里的各种各样的书籍",
            fields=[
                ("id", fields.IntField(primary_key=True)),
                ("number", fields.IntField(source_field="书架的名称和编号", db_index=True)),
                ("note", fields.CharField(max_length=9, default="书架的位置和楼层书架的位置")),
                ("mark", fields.CharField(max_length=9, default="é" * 40)),
            ],
        ),
    ]


def test_wide_characters_are_measured_as_ruff_measures_them(tmp_path: Path) -> None:
    (tmp_path / "wide.py").write_text(render(wide_operations()), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", "--diff", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


class Size(enum.Enum):
    BIG = "big"


# Every form a value can take in a file: ruff's default rules flag some of them (FURB157:
# ``Decimal("1")``), and some have no literal at all (``nan``, ``inf``, ``-0.0``).
VALUE_FORMS: dict[str, object] = {
    "whole": decimal.Decimal("7"),
    "negative_whole": decimal.Decimal("-3"),
    "big_whole": decimal.Decimal("123456789012345678901234567890"),
    "zero": decimal.Decimal("0"),
    "negative_zero": decimal.Decimal("-0"),
    "scaled": decimal.Decimal("1E+2"),
    "cents": decimal.Decimal("0.10"),
    "tiny": decimal.Decimal("-1.5E-10"),
    "not_a_number": decimal.Decimal("NaN"),
    "infinite": decimal.Decimal("-Infinity"),
    "float_nan": float("nan"),
    "float_inf": float("inf"),
    "float_negative_inf": float("-inf"),
    "float_negative_zero": -0.0,
    "float_huge": 1e300,
    "float_small": 5e-324,
    "big_int": -(2**70),
    "empty": [(), {}, [], ""],
    "one_tuple": ("x",),
    "unicode": "ünïcødé 图书 \u200b\x7f\r",
    "quotes": "'\"'",
    "raw": b"\x00\x7f\x80'\"\\",
    "enum": Size.BIG,
    "aware_time": datetime.time(8, 15, 0, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
    "midnight": datetime.time(0, 0),
    "no_span": datetime.timedelta(0),
    "negative_span": datetime.timedelta(days=-1, seconds=5),
    "aware": datetime.datetime(2024, 2, 29, 23, 59, 59, tzinfo=datetime.timezone.utc),
    "uid": uuid.UUID(int=0),
    "nested": {"k": {1: [None, True, 2.5]}, "": (decimal.Decimal("2"),)},
}


def value_form_operations() -> list[migrations.Operation]:
    return [
        migrations.AddField(model="Everything", name=name, field=fields.JSONField(default=value))
        for name, value in VALUE_FORMS.items()
    ]


def test_every_value_form_passes_ruff_defaults_and_preview(tmp_path: Path) -> None:
    (tmp_path / "forms.py").write_text(render(value_form_operations()), encoding="utf-8")
    for args in (
        ["check", "--isolated"],
        ["check", "--isolated", "--preview"],
        ["format", "--isolated", "--check", "--diff"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args, str(tmp_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_value_form_round_trips() -> None:
    namespace: dict[str, object] = {}
    exec(compile(render(value_form_operations()), "<migration>", "exec"), namespace)  # noqa: S102
    written = namespace["Migration"].operations  # type: ignore[attr-defined]
    back = {op.name: op.field.default for op in written}
    expected = {k: v.value if isinstance(v, enum.Enum) else v for k, v in VALUE_FORMS.items()}
    assert {k: repr(v) for k, v in back.items()} == {k: repr(v) for k, v in expected.items()}


def test_unknown_values_are_refused_with_a_hint() -> None:
    with pytest.raises(SerializationError, match="object.*into a migration file"):
        serialize(object(), Imports())


def test_checksum_ignores_comments_and_formatting_but_not_code() -> None:
    source = render(contact_operations())
    reformatted = source.replace("    operations = (", "    # a comment\n    operations = (  ")
    assert checksum(source) == checksum(reformatted)
    assert checksum(source) != checksum(source.replace("max_length=100", "max_length=101"))
