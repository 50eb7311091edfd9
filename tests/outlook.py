"""A minimal Outlook .msg writer for the tests: a Compound File (MS-CFB, version 3) holding the MAPI
property streams of a message (MS-OXMSG) with attachments. Nothing on this machine writes .msg files
(no Outlook; olefile and extract-msg only read), so the tests build the few streams extract-msg reads.
Streams under 4,096 bytes live in the mini stream (64-byte sectors), as the format requires."""
import struct

SECTOR, MINI, CUTOFF = 512, 64, 4096
FREE, END, FAT_MARK, NONE = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le")


def message_streams(subject: str, sender: str, attachments: list[tuple[str, bytes]]) -> dict:
    """path (tuple of names) → bytes, or None for a storage."""
    top = struct.pack("<8sIIII8s", b"\0" * 8, 0, len(attachments), 0, len(attachments), b"\0" * 8)
    tree = {
        ("__properties_version1.0",): top,
        ("__substg1.0_001A001F",): _utf16("IPM.Note"),
        ("__substg1.0_0037001F",): _utf16(subject),
        ("__substg1.0_0C1A001F",): _utf16(sender),
        ("__substg1.0_0C1F001F",): _utf16(sender),
        ("__substg1.0_5D01001F",): _utf16(sender),
        ("__substg1.0_1000001F",): _utf16("附件是填报表。"),
        ("__nameid_version1.0",): None,
        ("__nameid_version1.0", "__substg1.0_00020102"): b"",
        ("__nameid_version1.0", "__substg1.0_00030102"): b"",
        ("__nameid_version1.0", "__substg1.0_00040102"): b"",
    }
    for number, (name, data) in enumerate(attachments):
        storage = f"__attach_version1.0_#{number:08X}"
        method = struct.pack("<HHI", 0x0003, 0x3705, 6) + struct.pack("<Q", 1)  # PR_ATTACH_METHOD = by value
        tree[(storage,)] = None
        tree[(storage, "__properties_version1.0")] = b"\0" * 8 + method
        tree[(storage, "__substg1.0_3707001F")] = _utf16(name)
        tree[(storage, "__substg1.0_3704001F")] = _utf16(name[:8])
        tree[(storage, "__substg1.0_37010102")] = data
    return tree


def build_msg(subject: str, sender: str, attachments: list[tuple[str, bytes]]) -> bytes:
    return compound_file(message_streams(subject, sender, attachments))


def compound_file(tree: dict) -> bytes:
    entries = [{"name": "Root Entry", "type": 5, "children": [], "data": b""}]
    index = {(): 0}
    for path in sorted(tree, key=len):
        entry = {"name": path[-1], "type": 1 if tree[path] is None else 2, "children": [],
                 "data": tree[path] or b""}
        index[path] = len(entries)
        entries.append(entry)
        entries[index[path[:-1]]]["children"].append(index[path])
    sectors: list[bytes] = []
    fat: list[int] = []
    mini: list[bytes] = []
    minifat: list[int] = []
    for entry in entries[1:]:
        data = entry["data"]
        if 0 < len(data) < CUTOFF:
            entry["start"], entry["size"] = _place(data, mini, minifat, size=MINI)
        else:
            entry["start"], entry["size"] = _place(data, sectors, fat)
    ministream = b"".join(mini)
    entries[0]["start"], entries[0]["size"] = _place(ministream, sectors, fat)
    minifat_bytes = struct.pack(f"<{len(minifat)}I", *minifat) if minifat else b""
    minifat_bytes += struct.pack("<I", FREE) * (-len(minifat_bytes) // 4 % (SECTOR // 4))
    minifat_start, _ = _place(minifat_bytes, sectors, fat)
    minifat_count = len(minifat_bytes) // SECTOR
    directory = b"".join(_entry(entries, n) for n in range(len(entries)))
    directory += b"\0" * (-len(directory) % SECTOR)
    directory_start, _ = _place(directory, sectors, fat, pad=False)
    fat_count = 1
    while (len(sectors) + fat_count) * 4 > fat_count * SECTOR:
        fat_count += 1
    fat_start = len(sectors)
    fat += [FAT_MARK] * fat_count
    fat += [FREE] * (fat_count * SECTOR // 4 - len(fat))
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    difat = list(range(fat_start, fat_start + fat_count)) + [FREE] * (109 - fat_count)
    header = struct.pack("<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16, 0x3E, 3, 0xFFFE,
                         9, 6, b"\0" * 6, 0, fat_count, directory_start, 0, CUTOFF, minifat_start, minifat_count,
                         END, 0)
    header += struct.pack("<109I", *difat)
    return header + b"".join(sectors) + fat_bytes


def _place(data: bytes, sectors: list, fat: list, pad: bool = True, size: int = SECTOR) -> tuple[int, int]:
    if not data:
        return END, 0
    start = len(sectors)
    chunks = [data[i:i + size] for i in range(0, len(data), size)]
    for n, chunk in enumerate(chunks):
        sectors.append(chunk + b"\0" * (size - len(chunk)))
        fat.append(start + n + 1 if n + 1 < len(chunks) else END)
    return start, len(data)


def _entry(entries: list, n: int) -> bytes:
    entry = entries[n]
    name = _utf16(entry["name"]) + b"\0\0"
    children = entry["children"]
    child = children[0] if children else NONE
    right = NONE
    for parent in entries:  # siblings are chained to the right: every entry is reachable
        if n in parent["children"]:
            position = parent["children"].index(n)
            right = parent["children"][position + 1] if position + 1 < len(parent["children"]) else NONE
    start, size = (END, 0) if entry["type"] != 2 else (entry["start"], entry["size"])
    if entry["type"] == 1:
        start, size = 0, 0
    if entry["type"] == 5:
        start, size = entry["start"], entry["size"]
    return struct.pack("<64sHBBIII16sIQQIQ", name.ljust(64, b"\0"), len(name), entry["type"], 1, NONE, right,
                       child, b"\0" * 16, 0, 0, 0, start, size)
