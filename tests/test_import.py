"""Importing citizen demands from CSV and XLSX (issue 4): the real TipDM files, bad input, masking,
the grid rule, the hotline column set. The replay itself is tested in test_replay.py."""
import collections
import csv
import dataclasses
import datetime as dt
import hashlib
import io
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from cases.choices import CaseKind, Source, Status
from cases.importing import ImportRefused, import_file, mask_personal_data, parse_local_time, plan_import
from cases.models import Case, Category
from cases.seeding import seed_categories, seed_sla_policies
from grids.models import Grid, Village
from tests.conftest import SHARED_DATA

DATA = SHARED_DATA / "complaints" / "tipdm2020c"
SHANGHAI = ZoneInfo("Asia/Shanghai")
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")


@pytest.fixture
def town(xiji):
    seed_sla_policies()
    seed_categories()
    return xiji


def read_csv(name):
    with (DATA / name).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def local(text, *, end_of_day=False):
    """The test's own reading of the files' times: ``2019/4/25 9:32:09``, ``2019-04-08 08:37:20``, or a
    date alone (00:00, or 23:59:59 for replies, as the README documents)."""
    text = text.strip().replace("-", "/")
    try:
        naive = dt.datetime.strptime(text, "%Y/%m/%d %H:%M:%S")
    except ValueError:
        naive = dt.datetime.strptime(text, "%Y/%m/%d") + (dt.timedelta(hours=23, minutes=59, seconds=59)
                                                          if end_of_day else dt.timedelta(0))
    return naive.replace(tzinfo=SHANGHAI)


def write_csv(path: Path, header, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_the_files_with_a_message_time_are_the_five_expected():
    found = set()
    for path in DATA.iterdir():
        if path.suffix == ".csv":
            header = path.open(encoding="utf-8-sig").readline()
        elif path.suffix == ".xlsx":
            header = ",".join(str(c) for c in next(openpyxl.load_workbook(path, read_only=True).active
                                                   .iter_rows(max_row=1, values_only=True)))
        else:
            continue
        if "留言时间" in header:
            found.add(path.name)
    assert found == {"messages_with_replies_2816.csv", "messages_with_replies_2816.xlsx",
                     "messages_labelled_1842.csv", "messages_labelled_sample495.csv",
                     "messages_labelled_sample495.xlsx"}


def test_2816_file_plans_every_row_with_the_files_own_times_and_xlsx_agrees(town):
    rows = read_csv("messages_with_replies_2816.csv")
    plan = plan_import(DATA / "messages_with_replies_2816.csv")
    assert (plan.file_format, plan.column_set, plan.source) == ("csv", "message_board", Source.ONLINE)
    assert plan.rows == 2816 and plan.faults == [] and len(plan.records) == 2816
    refs = [r.external_ref for r in plan.records]
    assert len(set(refs)) == 2816 and refs == [row["留言编号"] for row in rows]
    for record, row in zip(plan.records, rows, strict=True):
        assert record.received_at == local(row["留言时间"])
        assert record.resolved_at == record.responded_at == local(row["答复时间"], end_of_day=True)
        assert record.title == row["留言主题"].strip()
        assert record.description and not record.description[0].isspace() and not record.description[-1].isspace()
        assert record.category_id is None and record.kind == CaseKind.COMPLAINT
    # the one reply given as a date alone reads as 23:59:59 of that day, local time
    dated = {r.external_ref: r for r in plan.records}["27610"]
    assert dated.resolved_at == dt.datetime(2018, 4, 24, 15, 59, 59, tzinfo=dt.UTC)
    xlsx = plan_import(DATA / "messages_with_replies_2816.xlsx")
    assert (xlsx.file_format, xlsx.rows, xlsx.faults) == ("xlsx", 2816, [])
    assert [dataclasses.asdict(r) | {"row": 0} for r in xlsx.records] == [dataclasses.asdict(r) | {"row": 0} for r in plan.records]


def test_1842_and_sample495_import_with_their_categories_times_and_idempotently(town):
    rows = read_csv("messages_labelled_1842.csv")
    call_command("import_cases", str(DATA / "messages_labelled_1842.csv"), stdout=io.StringIO(), stderr=io.StringIO())
    cases = {c.external_ref: c for c in Case.objects.select_related("category", "grid")}
    assert len(cases) == 1842 == len({row["留言编号"] for row in rows})
    assert collections.Counter(c.category.name for c in cases.values()) == collections.Counter(
        row["一级标签"] for row in rows)
    assert collections.Counter(c.category.name for c in cases.values()) == {
        "城乡建设": 412, "劳动和社会保障": 401, "教育文体": 311, "商贸旅游": 236, "卫生计生": 188, "环境保护": 165,
        "交通运输": 129}
    for row in rows:
        case = cases[row["留言编号"]]
        assert case.received_at == local(row["留言时间"])
        assert case.category.parent_id is None
        assert case.status == Status.ACCEPTED and case.source == Source.ONLINE  # no replies: stays open
    # re-import: nothing new, every row counted as already present
    sink = io.StringIO()
    call_command("import_cases", str(DATA / "messages_labelled_1842.csv"), stdout=sink, stderr=io.StringIO())
    assert "0 imported; 1842 already present" in sink.getvalue() and Case.objects.count() == 1842

    # sample495: one id (37042) appears twice, with two labels: reported, nothing written by default
    sample = read_csv("messages_labelled_sample495.csv")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 bad rows: nothing written"):
        call_command("import_cases", str(DATA / "messages_labelled_sample495.csv"), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().strip() == "row 312, column 留言编号: duplicate id 37042 (first at row 100)"
    assert Case.objects.count() == 1842
    # --skip-invalid writes the good rows; the 96 messages also in the 1842 file are the same records
    sink = io.StringIO()
    call_command("import_cases", str(DATA / "messages_labelled_sample495.csv"), "--skip-invalid",
                 stdout=sink, stderr=io.StringIO())
    overlap = {row["留言编号"] for row in sample} & {row["留言编号"] for row in rows}
    assert len(overlap) == 96
    assert "398 imported; 96 already present; 1 bad rows" in sink.getvalue()
    assert Case.objects.count() == 1842 + 495 - 1 - 96
    first = next(row for row in sample if row["留言编号"] == "37042")
    assert Case.objects.get(external_ref="37042").category.name == first["一级分类"] == "城乡建设"
    # the XLSX of the sample is the same cases: nothing new
    sink = io.StringIO()
    call_command("import_cases", str(DATA / "messages_labelled_sample495.xlsx"), "--skip-invalid",
                 stdout=sink, stderr=io.StringIO())
    assert "0 imported; 494 already present; 1 bad rows" in sink.getvalue()
    assert Case.objects.count() == 2240
    csv_plan, xlsx_plan = (plan_import(DATA / f"messages_labelled_sample495.{ext}") for ext in ("csv", "xlsx"))
    assert [dataclasses.asdict(r) | {"row": 0} for r in xlsx_plan.records] == [dataclasses.asdict(r) | {"row": 0} for r in csv_plan.records]


def test_each_record_lands_on_the_grid_the_documented_rule_gives(town, tmp_path):
    grids = list(Grid.objects.order_by("code"))
    assert len(grids) == 180
    path = write_csv(tmp_path / "m.csv", ["留言编号", "留言时间", "留言主题"],
                     [[ref, "2024/1/2 3:04:05", "路灯不亮"] for ref in ("1", "2549", "A-77", "360110")])
    import_file(path)
    for case in Case.objects.all():
        digest = hashlib.sha256(f"online:{case.external_ref}".encode()).digest()
        assert case.grid == grids[int.from_bytes(digest[:8], "big") % 180]
        assert case.village == case.grid.village
    # the source is part of the hash: the same references from the hotline land elsewhere
    plan = plan_import(path, source=Source.HOTLINE)
    assert [r.grid_id for r in plan.records] != list(Case.objects.order_by("external_ref")
                                                      .values_list("grid_id", flat=True))


def test_bad_rows_are_reported_with_row_and_column_and_nothing_is_written(town, tmp_path):
    path = write_csv(tmp_path / "bad.csv", ["留言编号", "留言时间", "留言主题", "答复意见", "答复时间"], [
        ["1", "2019/4/25 9:32:09", "好的行", "已处理", "2019/4/26 9:00:00"],          # row 2: good
        ["2", "2019/13/45 25:00", "坏时间", "", ""],                                  # row 3
        ["", "2019/4/25 9:32:09", "没有编号", "", ""],                                 # row 4
        ["1", "2019/4/27 9:32:09", "重复编号", "", ""],                                # row 5
        ["5", "2019/4/25 9:32:09", "答复早于留言", "已处理", "2019/4/24 9:00:00"],     # row 6
        ["6", "2019/4/25 9:32:09", "", "", ""],                                      # row 7
        ["7", "2019/4/25", "只有日期", "", ""],                                       # row 8: good
    ])
    err = io.StringIO()
    with pytest.raises(CommandError, match="5 bad rows: nothing written"):
        call_command("import_cases", str(path), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == [
        "row 3, column 留言时间: unparseable time '2019/13/45 25:00'",
        "row 4, column 留言编号: empty id",
        "row 5, column 留言编号: duplicate id 1 (first at row 2)",
        "row 6, column 答复时间: reply before message",
        "row 7, column 留言主题: empty title",
    ]
    assert Case.objects.count() == 0
    # --dry-run writes nothing either
    sink = io.StringIO()
    call_command("import_cases", str(path), "--dry-run", "--skip-invalid", stdout=sink, stderr=io.StringIO())
    assert sink.getvalue().startswith("dry run: 7 rows") and Case.objects.count() == 0
    # --skip-invalid writes the two good rows
    sink = io.StringIO()
    call_command("import_cases", str(path), "--skip-invalid", stdout=sink, stderr=io.StringIO())
    assert "2 imported" in sink.getvalue() and "5 bad rows" in sink.getvalue()
    assert sorted(Case.objects.values_list("external_ref", flat=True)) == ["1", "7"]
    assert Case.objects.get(external_ref="7").received_at == dt.datetime(2019, 4, 24, 16, 0, tzinfo=dt.UTC)
    assert Case.objects.get(external_ref="1").status == Status.RESOLVED


def test_a_missing_column_refuses_the_whole_file(town, tmp_path):
    path = write_csv(tmp_path / "nocol.csv", ["留言编号", "留言主题"], [["1", "标题"]])
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_cases", str(path), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().strip() == "row 1, column 留言时间: missing column"
    # (a header with "Unique Key" and "Created Date" is NYC's now: tests/test_import_profiles.py)
    unknown = write_csv(tmp_path / "other.csv", ["Key", "Created"], [["1", "2019-01-01"]])
    with pytest.raises(CommandError, match="unknown column set"):
        call_command("import_cases", str(unknown), stdout=io.StringIO(), stderr=io.StringIO())
    assert Case.objects.count() == 0


def test_an_id_reused_for_another_message_is_a_fault_not_a_silent_skip(town, tmp_path):
    first = write_csv(tmp_path / "a.csv", ["留言编号", "留言时间", "留言主题"], [["9", "2015/7/19 14:37:38", "甲"]])
    import_file(first)
    second = write_csv(tmp_path / "b.csv", ["留言编号", "留言时间", "留言主题"],
                       [["9", "2018/12/7 3:29:02", "乙"], ["10", "2018/12/8 3:29:02", "丙"]])
    plan = plan_import(second)
    assert [str(f) for f in plan.faults] == [
        "row 2, column 留言编号: id 9 already belongs to another online case (received 2015-07-19 14:37:38)"]
    assert [r.external_ref for r in plan.records] == ["10"]


def test_format_is_read_from_the_content_with_excel_cells_and_trimmed_text(town, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["留言编号", "留言主题", "留言时间", "留言详情", "一级分类", "答复意见", "答复时间"])
    sheet.append([101, "\n\t\t标题一 ", dt.datetime(2019, 4, 8, 8, 37, 20), "\n\t\t\n\t正文 ", "环境保护",
                  " 已答复\n", dt.date(2019, 4, 9)])
    sheet.append([None] * 7)  # blank row: skipped, keeps its number
    sheet.append([102.0, "标题二", 43563.5, "正文", "", "", None])  # Excel serial number 2019-04-08 12:00
    book.save(tmp_path / "looks_like.csv")  # an XLSX under a CSV name
    plan = plan_import(tmp_path / "looks_like.csv")
    assert plan.file_format == "xlsx" and plan.faults == [] and plan.rows == 2
    one, two = plan.records
    assert (one.external_ref, one.title, one.description, one.result) == ("101", "标题一", "正文", "已答复")
    assert one.received_at == dt.datetime(2019, 4, 8, 0, 37, 20, tzinfo=dt.UTC)
    assert one.resolved_at == dt.datetime(2019, 4, 9, 15, 59, 59, tzinfo=dt.UTC)
    assert one.category_id == Category.objects.get(name="环境保护", parent=None).pk
    assert (two.row, two.external_ref) == (4, "102")
    assert two.received_at == dt.datetime(2019, 4, 8, 4, 0, tzinfo=dt.UTC) and two.resolved_at is None
    # a GB18030 CSV under an XLSX name
    (tmp_path / "looks_like.xlsx").write_bytes("留言编号,留言时间,留言主题\n7,2019-04-08 08:37:20,路灯\n".encode("gb18030"))
    plan = plan_import(tmp_path / "looks_like.xlsx")
    assert plan.file_format == "csv" and plan.records[0].title == "路灯"


def test_times_in_every_accepted_form():
    utc = dt.UTC
    assert parse_local_time("2019/4/25 9:32:09") == dt.datetime(2019, 4, 25, 1, 32, 9, tzinfo=utc)
    assert parse_local_time("2019-04-25 09:32") == dt.datetime(2019, 4, 25, 1, 32, tzinfo=utc)
    assert parse_local_time("2019年4月25日 9:32") == dt.datetime(2019, 4, 25, 1, 32, tzinfo=utc)
    assert parse_local_time(" 2019/4/25 ") == dt.datetime(2019, 4, 24, 16, 0, tzinfo=utc)
    assert parse_local_time("2019/4/25", date_only_end=True) == dt.datetime(2019, 4, 25, 15, 59, 59, tzinfo=utc)
    assert parse_local_time("") is None and parse_local_time(None) is None
    for bad in ("25/04/2019", "2019/4/25 9", "yesterday", "2019/2/30 1:00:00"):
        with pytest.raises(ValueError):
            parse_local_time(bad)


def test_phone_and_id_numbers_are_masked():
    assert mask_personal_data("电话13812345678，请回电") == "电话138****5678，请回电"
    assert mask_personal_data("手机 138-1234-5678") == "手机 138****5678"
    assert mask_personal_data("负责人陈阳礼电话：158××××9361在投标") == "负责人陈**电话：158****9361在投标"
    assert mask_personal_data("身份证号110101199003071234，") == "身份证号110***********1234，"
    assert mask_personal_data("证号11010119900307123X。") == "证号110***********123X。"
    assert mask_personal_data("联系电话：0735-3351656。") == "联系电话：0735-***1656。"
    assert mask_personal_data("电话：8805667，8805670") == "电话：***5667，8805670"
    assert mask_personal_data("联系人：邹民为　　联系") == "联系人：邹**　　联系"
    assert mask_personal_data("我叫解永，电话0") == "我叫解*，电话0"
    untouched = "2019年4月25日，网友“A00045581”反映的活期存款4952609.59元，负责人表示"
    assert mask_personal_data(untouched) == untouched


def test_no_mobile_or_id_number_survives_the_import_of_the_real_files(town):
    texts = []
    for name in ("messages_with_replies_2816.csv", "messages_labelled_1842.csv", "messages_labelled_sample495.csv"):
        for record in plan_import(DATA / name).records:
            texts.extend([record.title, record.description, record.result])
    joined = "\n".join(texts)
    assert not MOBILE.search(joined)
    assert not re.search(r"(?<![0-9])[0-9]{15,}", joined)
    assert "158****9361" in joined and "158××××9361" not in joined


def test_hotline_column_set(town, tmp_path):
    village = Village.objects.get(code="110112110222")  # 大灰店村, five micro-grids
    header = ["工单编号", "受理时间", "标题", "诉求内容", "诉求类型", "分类", "紧急程度", "诉求人", "联系电话", "地址",
              "村/社区", "微网格", "响应时间", "办结时间", "办理结果", "是否解决"]
    path = write_csv(tmp_path / "hotline.csv", header, [
        ["H1", "2024-03-01 08:00", "", "村口路灯不亮，电话13900001111", "求助", "城乡建设", "", "张三", "13900001111",
         "大灰店村3组", "大灰店村", "", "2024-03-01 09:00", "2024-03-02 10:00", "已修复", "是"],
        ["H2", "2024-03-01 08:30", "停水", "全村停水", "投诉", "", "水电气热", "", "", "", "110112110222",
         "110112110222-05", "", "", "", ""],
        ["H3", "2024-03-01 08:30", "x", "", "吐槽", "不存在的分类", "", "", "", "", "无此村", "", "", "", "", ""],
    ])
    plan = plan_import(path)
    assert plan.column_set == "hotline" and plan.source == Source.HOTLINE
    assert [str(f) for f in plan.faults] == [
        "row 4, column 诉求类型: unknown value '吐槽'",
        "row 4, column 分类: unknown category",
        "row 4, column 村/社区: unknown village",
    ]
    import_file(path, skip_invalid=True)
    h1, h2 = Case.objects.get(external_ref="H1"), Case.objects.get(external_ref="H2")
    grids = list(village.grids.order_by("code"))
    digest = hashlib.sha256(b"hotline:H1").digest()
    assert h1.grid == grids[int.from_bytes(digest[:8], "big") % len(grids)]
    assert (h1.kind, h1.category.name, h1.title) == (CaseKind.HELP, "城乡建设", "村口路灯不亮，电话139****1111")
    assert (h1.complainant_name, h1.complainant_phone, h1.address) == ("张三", "13900001111", "大灰店村3组")
    assert h1.responded_at == dt.datetime(2024, 3, 1, 1, 0, tzinfo=dt.UTC)
    assert h1.resolved_at == dt.datetime(2024, 3, 2, 2, 0, tzinfo=dt.UTC)
    assert (h1.status, h1.solved, h1.result) == (Status.RESOLVED, True, "已修复")
    assert h2.grid.code == "110112110222-05" and h2.urgency == "utilities" and h2.status == Status.ACCEPTED
    assert h2.respond_due_at == h2.received_at + dt.timedelta(hours=2)


def test_a_file_without_grids_or_unreadable_is_refused(db, tmp_path):
    path = write_csv(tmp_path / "m.csv", ["留言编号", "留言时间", "留言主题"], [["1", "2019/1/1 1:00:00", "t"]])
    with pytest.raises(ImportRefused, match="seed_xiji"):
        plan_import(path)
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportRefused, match="not a readable XLSX"):
        plan_import(tmp_path / "broken.xlsx")



def test_a_csv_cut_mid_row_inside_a_quote_is_a_fault_of_that_row_and_column(town, tmp_path):
    # A download that stopped half way: the last row opens a quoted cell and the file ends inside it.
    path = tmp_path / "cut.csv"
    path.write_text('留言编号,留言时间,留言主题,留言详情\n'
                    '1,2019/4/25 9:32:09,完整的行,"详情\n第二行"\n'
                    '2,2019/4/26 9:32:09,被截断的行,"详情只写了一半\n', encoding="utf-8")
    plan = plan_import(path)
    assert [str(f) for f in plan.faults] == [
        "row 3, column 留言详情: unterminated quote: the file ends inside this cell (cut mid-row?)"]
    assert [r.external_ref for r in plan.records] == ["1"]
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 bad rows: nothing written"):
        call_command("import_cases", str(path), stdout=io.StringIO(), stderr=err)
    assert Case.objects.count() == 0
    call_command("import_cases", str(path), "--skip-invalid", stdout=io.StringIO(), stderr=io.StringIO())
    assert list(Case.objects.values_list("external_ref", "description")) == [("1", "详情\n第二行")]


def test_malformed_quoting_mid_file_is_a_fault_and_the_rows_after_it_still_read(town, tmp_path):
    path = tmp_path / "quotes.csv"
    path.write_text('留言编号,留言时间,留言主题\n'
                    '1,2019/4/25 9:32:09,"标题"多余\n'
                    '2,2019/4/26 9:32:09,好的行\n', encoding="utf-8")
    plan = plan_import(path)
    assert [str(f) for f in plan.faults] == ["row 2, column 留言主题: text after the closing quote of this cell"]
    assert [r.external_ref for r in plan.records] == ["2"]


def test_a_nul_byte_in_a_cell_is_a_row_and_column_fault_not_a_traceback(town, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes('留言编号,留言时间,留言主题,留言详情\n'
                     '1,2019/4/25 9:32:09,好的行,详情\n'
                     '2,2019/4/26 9:32:09,坏的行,"半个\x00字节"\n'.encode())
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 bad rows: nothing written"):
        call_command("import_cases", str(path), stdout=io.StringIO(), stderr=err)
    assert err.getvalue().splitlines() == ["row 3, column 留言详情: NUL byte in the cell"]
    assert Case.objects.count() == 0
    call_command("import_cases", str(path), "--skip-invalid", stdout=io.StringIO(), stderr=io.StringIO())
    assert list(Case.objects.values_list("external_ref", flat=True)) == ["1"]
