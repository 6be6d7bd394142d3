"""Storage-level benchmark: encode+put / get+decode of a large frame against bare Feather.

Run ``python benchmarks/outputs_storage.py [--rows N] [--repeats R] [--formats]``.

Both sides are measured in the same run, alternating, best of ``R`` repeats:

- save: ``Codecs.encode`` + ``BlobStore.put`` to a local directory, against
  ``pyarrow.feather.write_feather(df, path, compression="uncompressed", chunksize=len(df))``
  followed by an fsync of that file (the fastest bare durable write);
- load: ``BlobStore.get`` (checksum verified) + ``Codecs.decode``, against ``feather.read_feather``.

``--formats`` also compares, in memory, the candidate frame formats (Arrow IPC file, Arrow IPC
stream, Parquet) for encode+decode.
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from flowdeck.storage.blobs import BlobStore, LocalBackend
from flowdeck.storage.codecs import Codecs

SAVE_TARGET = 1.25
LOAD_TARGET = 1.10


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """A frame with int, float, category, string and datetime columns."""
    rng = np.random.default_rng(seed)
    words = np.array([f"customer-{i:06d}" for i in range(50_000)], dtype=object)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "amount": rng.normal(100.0, 25.0, rows),
            "segment": pd.Categorical(rng.choice(["retail", "wholesale", "online", "partner"], rows)),
            "customer": pd.array(words[rng.integers(0, len(words), rows)], dtype="str"),
            "at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86_400 * 365, rows), unit="s"),
        }
    )


def timed(fn: Callable[[], object], setup: Callable[[], object] | None = None) -> float:
    """Seconds of one call of ``fn`` (``setup`` runs untimed before it)."""
    if setup is not None:
        setup()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fsync_file(path: Path) -> None:
    """Make the file at ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compare_formats(df: pd.DataFrame, repeats: int) -> None:
    """Print encode+decode times of the candidate formats, in memory."""

    def ipc_file() -> pa.Buffer:
        table = pa.Table.from_pandas(df)
        sink = pa.BufferOutputStream()
        with ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue()

    def ipc_stream() -> pa.Buffer:
        table = pa.Table.from_pandas(df)
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return sink.getvalue()

    def parquet() -> pa.Buffer:
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pandas(df), sink, compression="none")
        return sink.getvalue()

    formats = {
        "arrow ipc file": (ipc_file, lambda b: ipc.open_file(b).read_all().to_pandas()),
        "arrow ipc stream": (ipc_stream, lambda b: ipc.open_stream(b).read_all().to_pandas()),
        "parquet (none)": (parquet, lambda b: pq.read_table(pa.BufferReader(b)).to_pandas()),
    }
    print("formats, in memory (best of repeats):")
    for name, (enc, dec) in formats.items():
        buf = enc()
        t_enc = min(timed(enc) for _ in range(repeats))
        t_dec = min(timed(lambda dec=dec, buf=buf: dec(buf)) for _ in range(repeats))
        print(
            f"  {name:17s} encode {t_enc * 1e3:7.1f} ms  decode {t_dec * 1e3:7.1f} ms  "
            f"total {(t_enc + t_dec) * 1e3:7.1f} ms  size {buf.size / 1e6:7.1f} MB"
        )


def main() -> None:
    """Run the benchmark and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the frame (default 2,000,000)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each measurement (best is kept)")
    parser.add_argument("--formats", action="store_true", help="also compare IPC file/stream and Parquet")
    parser.add_argument("--dir", type=Path, default=None, help="directory for the files (default: a temp dir)")
    args = parser.parse_args()

    df = make_frame(args.rows)
    codecs = Codecs([secrets.token_bytes(32)])
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        store = BlobStore(LocalBackend(Path(tmp) / "blobs"))
        path = Path(tmp) / "baseline.feather"

        def save_baseline() -> None:
            feather.write_feather(df, path, compression="uncompressed", chunksize=len(df))
            fsync_file(path)

        ref = store.put(codecs.encode(df).parts)
        encoded_codec = codecs.encode(df).codec
        save_baseline()

        def save_flowdeck() -> None:
            store.put(codecs.encode(df).parts)

        def load_flowdeck() -> pd.DataFrame:
            return codecs.decode(encoded_codec, store.get(ref.key, ref.checksum))

        def load_baseline() -> pd.DataFrame:
            return feather.read_feather(path)

        # Equal values are stored once: remove the blob first so that every save really writes.
        def forget_blob() -> None:
            store.delete(ref.key)

        def forget_file() -> None:
            path.unlink(missing_ok=True)

        pd.testing.assert_frame_equal(load_flowdeck(), df, check_exact=True)

        save_fd, save_base, load_fd, load_base = [], [], [], []
        for _ in range(args.repeats):
            save_base.append(timed(save_baseline, forget_file))
            save_fd.append(timed(save_flowdeck, forget_blob))
            load_base.append(timed(load_baseline))
            load_fd.append(timed(load_flowdeck))
        size_mb = ref.size / 1e6
        save_ratio = min(save_fd) / min(save_base)
        load_ratio = min(load_fd) / min(load_base)
        print(f"rows {args.rows:,}  blob {size_mb:.1f} MB  feather file {path.stat().st_size / 1e6:.1f} MB")
        print(f"save: flowdeck {min(save_fd) * 1e3:.1f} ms  write_feather+fsync {min(save_base) * 1e3:.1f} ms")
        print(f"load: flowdeck {min(load_fd) * 1e3:.1f} ms  read_feather {min(load_base) * 1e3:.1f} ms")
        print(f"save ratio {save_ratio:.2f}x (target <= {SAVE_TARGET:.2f}x) rows={args.rows:,}")
        print(f"load ratio {load_ratio:.2f}x (target <= {LOAD_TARGET:.2f}x) rows={args.rows:,}")
    if args.formats:
        compare_formats(df, args.repeats)


if __name__ == "__main__":
    main()
