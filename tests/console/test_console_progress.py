"""收件 with progress: each file's verdict streamed (server-sent events) as it is read."""
import io
import re
import zipfile

import pytest

from console.fixtures import CSRF_QUERY

pytestmark = pytest.mark.usefixtures("private_config")


def events(client, response) -> list[str]:
    """The job's event stream, read to its end: each data line in order."""
    job_id = str(response.url).rsplit("/", 1)[1]
    stream = client.get(f"/jobs/{job_id}/events")
    assert stream.headers["content-type"].startswith("text/event-stream")
    return re.findall(r"^data: (.*)$", stream.text, re.M)


def test_every_file_read_is_a_line_of_progress_before_the_summary(client, year, demo_returns):
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:  # a container: its member is read in the next round
        archive.writestr("开发处-压缩.xlsx", demo_returns[1].read_bytes())
    files = [("files", (p.name, p.read_bytes())) for p in demo_returns[:3]]
    files += [("files", ("坏了的表.xlsx", b"PK\x03\x04 broken")), ("files", ("打包.zip", packed.getvalue()))]
    response = client.post(f"/inbox/upload?{CSRF_QUERY}", files=files)
    lines = events(client, response)
    verdicts = [line for line in lines if re.match(r"\d+\. ", line)]
    assert [int(line.split(".")[0]) for line in verdicts] == list(range(1, len(verdicts) + 1))
    for returned in demo_returns[:3]:
        assert any(line.endswith(f"{returned.name}：已读取") for line in verdicts), verdicts
    assert any("坏了的表.xlsx：已拒绝：" in line for line in verdicts)
    assert any("打包.zip › 开发处-压缩.xlsx：" in line for line in verdicts)
    summary = next(n for n, line in enumerate(lines) if line.startswith("已读取"))
    assert summary > lines.index(verdicts[-1])  # each verdict came before the run's summary
