"""A folder of test documents, one of each kind the local index reads, each about a
different (made-up) subject so a query has one right answer."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.support.pdf import text_pdf

KESTREL_HTML = """<html><head><title>Kestrel release notes</title>
<link rel="canonical" href="https://kestrel.example.org/notes/2.0">
<meta property="article:published_time" content="2026-11-20"></head>
<body><nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/blog">Blog</a></nav>
<article><h1>Kestrel 2.0 release notes</h1>
<p>Kestrel 2.0 brings a new storage engine with background compaction. Compaction keeps
write amplification low on busy clusters.</p>
<table><tr><th>Version</th><th>Released</th></tr><tr><td>2.0</td><td>2026-11-20</td></tr>
<tr><td>1.9</td><td>2026-06-02</td></tr></table>
<pre><code>kestrel compact --level 3 --dry-run</code></pre>
<p>Upgrading from 1.x needs a migration of the catalog files.</p>
<img src="/img/arch.png" alt="Architecture diagram"></article>
<footer>Copyright 2026 Example Corp. All rights reserved. Privacy policy. Cookie settings.</footer>
</body></html>
"""

OLD_DAYS = 400


def write_corpus(root: Path) -> Path:
    docs = root / "docs"
    (docs / "guides").mkdir(parents=True)
    (docs / "guides" / "otters.md").write_text(
        "---\ntitle: River otter care\ndate: 2026-10-01\n---\n"
        "# Otters\n\nRiver otters need clean water and a den near the bank.\n\n"
        "They eat fish, crayfish and frogs. Zookeepers feed them four times a day.\n"
    )
    (docs / "kestrel.html").write_text(KESTREL_HTML)
    (docs / "saffron.txt").write_text(
        "Saffron harvest\n\nSaffron comes from the stigmas of the crocus flower. "
        "Each flower gives three threads, picked by hand at dawn.\n"
    )
    (docs / "heron.pdf").write_bytes(
        text_pdf(
            ["Heron migration", "Grey herons migrate south along the estuary in autumn."],
            title="Heron field guide",
            created="D:20260315000000",
        )
    )
    old = docs / "lighthouse.md"
    old.write_text("# Lighthouse keeping\n\nThe lighthouse lamp is trimmed every evening.\n")
    stamp = time.time() - OLD_DAYS * 86400
    os.utime(old, (stamp, stamp))
    return docs
