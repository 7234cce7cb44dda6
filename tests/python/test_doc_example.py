"""docs/python.md's example is run here, cut from between its example markers."""
import os
import re

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "python.md")


def test_the_documented_decode_step_runs():
    if not os.path.exists(DOC):
        pytest.skip("docs/python.md is not beside this test tree")
    text = open(DOC).read()
    block = re.search(r"<!-- example-begin -->\s*```python\n(.*?)```\s*<!-- example-end -->", text, re.S)
    assert block, "the example markers are missing from docs/python.md"
    exec(compile(block.group(1), DOC, "exec"), {})
