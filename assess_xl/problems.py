"""The catalogue of problems: one record type used by every stage, and one Chinese message
template per kind, so wording stays consistent (the 问题清单 of the report)."""
from __future__ import annotations

import bisect
import errno
import functools
import itertools
import operator
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from enum import Enum
from typing import ClassVar, TypeGuard, cast


class Level(str, Enum):
    """How serious a problem is; the value is what the user reads."""
    ERROR = "错误"
    WARNING = "警告"
    INFO = "提示"

    def __str__(self) -> str:
        return self.value


ERROR, WARNING, INFO = Level.ERROR, Level.WARNING, Level.INFO
LEVEL_ORDER: dict[str, int] = {ERROR: 0, WARNING: 1, INFO: 2}

class Code(str, Enum):
    """Every kind of problem the tool reports: the code (a stable string, used in 问题清单 and by tests),
    its default level and its Chinese message template. A misspelt code is an AttributeError (and a
    mypy error), never a silently missing message."""
    level: Level
    template: str

    def __new__(cls, code: str, level: Level, template: str) -> "Code":
        member = str.__new__(cls, code)
        member._value_ = code
        member.level = level
        member.template = template
        return member

    def __str__(self) -> str:
        return str.__str__(self)

    # cells
    BOOL_INVALID = "bool_invalid", ERROR, "“{raw}”不是是/否，本项不计分。请从下拉列表选择“是”或“否”。"
    CHOICE_INVALID = "choice_invalid", ERROR, "“{raw}”不是可选项，本项不计分。请从下拉列表选择：{options}。"
    NOT_A_NUMBER = "not_a_number", ERROR, "“{raw}”不是数字，本项不计分。请填写{expected}。"
    NOT_INTEGER = "not_integer", ERROR, "“{raw}”不是整数，本项不计分。请填写{expected}。"
    NEGATIVE = "negative", ERROR, "“{raw}”是负数，本项不计分。请填写{expected}。"
    OUT_OF_BOUNDS = "out_of_bounds", ERROR, "“{raw}”{bound}，本项不计分。请填写{expected}。"
    PERCENT_OUT_OF_RANGE = "percent_out_of_range", ERROR, "“{raw}”不是有效的比率，本项不计分。请填写0%到100%之间的百分数，如85%。"
    PERCENT_POINTS = "percent_points", WARNING, "“{raw}”按百分数理解为{value}。如不是此意，请改填百分数，如85%。"
    DATE_IN_NUMBER = "date_in_number", ERROR, "单元格是日期或时间（{raw}），本项不计分。请把单元格格式改为常规后填写{expected}。"
    NUMBER_AS_TEXT = "number_as_text", INFO, "数字“{raw}”以文本形式存储，已按数字{value}读取。"
    TEXT_TOO_LONG = "text_too_long", ERROR, "单元格文字过长（{length}个字符），本项不计分。请填写{expected}。"
    FORMULA_CACHED = "formula_cached", WARNING, "单元格是公式（{formula}），已使用其保存的计算结果“{raw}”。请直接填写数值。"
    FORMULA_NO_VALUE = "formula_no_value", ERROR, "单元格是公式（{formula}）且没有保存的计算结果，按缺报处理。请直接填写{expected}。"
    ERROR_VALUE = "error_value", ERROR, "单元格是错误值{raw}，按缺报处理。请直接填写{expected}。"
    MISSING = "missing", ERROR, "缺报：该项未填写，本目标计0分。请填写{expected}。"
    CONFLICT = "conflict", WARNING, "同一项在两个文件中填写不同：“{old}”（{old_file}）与“{raw}”（{file}）；采用较晚提交的“{winner}”（{winner_file}）。"
    CORRECTED = "corrected", INFO, "“{old}”（{old_file}）{why}，未计分；已由较晚提交的“{winner}”（{winner_file}）更正。"
    CONFLICT_STRICT = "conflict_strict", ERROR, "同一项在两个文件中填写不同：“{old}”（{old_file}）与“{raw}”（{file}），本项不计分。请核实后只保留一个值。"
    CONFLICT_TIE = "conflict_tie", ERROR, "同一项在两个文件中填写不同：“{old}”（{old_file}）与“{raw}”（{file}），两者的提交时间相同，不能判断哪一份较晚，本项不计分。请核实后只保留一个值，或在调整表中写明采用的值。"
    MERGED_INPUT = "merged_input", WARNING, "填报单元格被合并（{range}），只读取左上角单元格。请取消合并。"
    # the district list (forms, the year's settings)
    DISTRICTS_EMPTY = "districts_empty", ERROR, "区名单是空的。请给出区名单文件，或用逗号分隔的区名，如“玄武区,秦淮区”。"
    DISTRICTS_TOO_MANY = "districts_too_many", ERROR, "区名单有{count}个区，超过上限{limit}个。请检查名单文件是否正确。"
    DISTRICT_NAME_BLANK = "district_name_blank", ERROR, "区名“{district}”是空白的。请删除空行或多余的分隔符。"
    DISTRICT_NAME_HIDDEN = "district_name_hidden", ERROR, "区名“{district}”含有控制字符或不可见字符（如换行、制表符、零宽空格、从右到左标记）。请只用文字、数字和标点。"
    DISTRICT_NAME_TOO_LONG = "district_name_too_long", ERROR, "区名“{start}…”有{length}个字符，超过上限{limit}个。请用简称。"
    DISTRICT_NAME_RESERVED = "district_name_reserved", ERROR, "区名“{district}”与本工具使用的表头或工作表名“{reserved}”相同。请换一个名称。"
    DISTRICT_NAME_REPEATED = "district_name_repeated", ERROR, "区名“{district}”重复。每个区只能出现一次，请改用能区分的名称。"
    DISTRICT_NAME_SIMILAR = "district_name_similar", ERROR, "区名“{district}”与“{other}”只差全角/半角、空格或大小写，会被当成同一个区。每个区只能出现一次，请改用能区分的名称。"
    FORM_WRITE_FAILED = "form_write_failed", ERROR, "写入{what}失败（xlsxwriter 返回 {status}）"
    FORM_METADATA_TOO_LONG = "form_metadata_too_long", ERROR, "填报表信息“{key}”有{length}个字符，超过Excel单元格上限{limit}。请减少区的数量或缩短区名。"
    # sheets and forms
    DEPARTMENT_MISSING = "department_missing", ERROR, "没有收到{department}的填报（{count}个区），其负责的目标记为缺报。请向{department}催报。"
    CODE_UNKNOWN = "code_unknown", WARNING, "编号“{raw}”不是本细则的指标，该行已忽略。请勿修改编号列。"
    CODE_MISSING = "code_missing", ERROR, "工作表缺少指标{code}的行，该项视为缺报。请使用原始填报表，勿删除或修改编号。"
    CODE_DUPLICATE = "code_duplicate", ERROR, "指标{code}在工作表中出现多行，均不计分。请删除重复的行。"
    DISTRICT_UNKNOWN = "district_unknown", WARNING, "列标题“{raw}”不是本次考核的区，该列已忽略。请勿修改区名或增加列。"
    DISTRICT_UNKNOWN_FILLED = "district_unknown_filled", ERROR, "列标题“{raw}”不是本次考核的区，该列填写的数据未读取。请勿修改区名或增加列；如确有此区，请用 --districts 给出全部区名。"
    DISTRICTS_DISAGREE = "districts_disagree", ERROR, "交回的填报表中区名单不一致（各有{count}个文件）：{lists}。只按共有的区计分：{kept}。请用 --districts 给出本次考核的全部区名后重新汇总。"
    DISTRICT_MISSING = "district_missing", ERROR, "工作表缺少区“{district}”的列，视为未填报。请使用原始填报表，勿删除或修改区名。"
    DISTRICT_DUPLICATE = "district_duplicate", ERROR, "区“{district}”在工作表中出现多列，均不计分。请删除重复的列。"
    NO_HEADER = "no_header", ERROR, "找不到含“编号”的标题行，无法读取该工作表。请使用原始填报表。"
    SHEET_HIDDEN = "sheet_hidden", WARNING, "工作表“{sheet}”被隐藏，仍已读取。"
    SHEET_RENAMED = "sheet_renamed", WARNING, "工作表名“{sheet}”被修改过，按其中的编号识别为{department}的填报表。请勿修改工作表名。"
    SHEET_DUPLICATE = "sheet_duplicate", ERROR, "同一文件中有两个{department}工作表（{sheets}），均不读取。请只保留一个。"
    NO_METADATA = "no_metadata", WARNING, "文件中没有填报表信息（可能不是本工具生成或已被删改），已按工作表名和编号读取。"
    OTHER_RULEBOOK = "other_rulebook", ERROR, "该填报表由另一份评分细则生成（{found}，指纹{found_fp}），与本次使用的细则（{expected_title}，指纹{expected_fp}）不一致，未读取。请使用本年度的填报表重新填写。"
    NOT_A_FORM = "not_a_form", ERROR, "文件中没有任何部门填报工作表（{sheets}），不是考核填报表，已忽略。"
    # files
    FILE_DUPLICATE = "file_duplicate", INFO, "与“{other}”内容完全相同，只计一次。"
    FILE_MACROS = "file_macros", WARNING, "文件含宏（VBA），宏未运行也未保留，仅读取单元格的值。"
    FILE_FORMAT = "file_format", INFO, "文件为{format}格式，已读取单元格的值。"
    METADATA_INVALID = "metadata_invalid", WARNING, "填报表信息中的“{field}”格式不正确（可能被改动），已忽略，按工作表内容读取。"
    SAVED_TIME_IMPLAUSIBLE = "saved_time_implausible", WARNING, "文件记录的保存时间“{raw}”不可信（早于1990年或晚于今天），改按文件时间判断先后。"
    # verdicts on a whole file (the reason shown in 来源 and in 问题清单)
    ENCRYPTED = "encrypted", ERROR, "文件已加密（设置了打开密码），无法读取。请让该部门取消密码后重新发送。"
    PARSE_CRASH = "parse_crash", ERROR, "读取该文件时解析程序崩溃（{how}，文件结构异常，可能是恶意构造的文件），已拒绝。请让该部门用Excel另存为.xlsx后重新发送。"
    PARSE_TIMEOUT = "parse_timeout", ERROR, "读取该文件超过{seconds}秒仍未完成（文件结构异常），已拒绝。请让该部门用Excel另存为.xlsx后重新发送。"
    PARSE_MEMORY = "parse_memory", ERROR, "读取该文件需要的内存远超正常填报表（文件结构异常），已拒绝。"
    PARSE_ERROR = "parse_error", ERROR, "文件无法解析（{kind}），可能已损坏。请用Excel打开确认后另存为.xlsx再发送。"
    SHEET_TOO_LARGE = "sheet_too_large", ERROR, "工作表“{sheet}”的范围达{rows}行×{columns}列，远超正常填报表，已拒绝。"
    WORKER_FAILED = "worker_failed", ERROR, "本机无法启动读取进程（不是该文件的问题），该文件未读取。"
    TOOL_OUTPUT = "tool_output", INFO, "这是本工具生成的考核结果或填报情况表，不是填报表，已跳过。"
    NOTHING_FILLED = "nothing_filled", ERROR, "收到的填报表都没有填写任何数据（可能是空白表）。"
    # intake: what a file is, decided before anything parses it
    NO_PERMISSION = "no_permission", ERROR, "没有读取该文件的权限。请检查文件权限后重试。"
    UNREADABLE = "unreadable", ERROR, "无法读取该文件（{reason}）。"
    NOT_REGULAR = "not_regular", ERROR, "不是普通文件（管道、设备等），已跳过。"
    TOO_LARGE = "too_large", ERROR, "文件过大（超过{limit} MB），不是正常的填报表，已拒绝。"
    EMPTY_FILE = "empty_file", ERROR, "文件是空的（0字节），请重新发送。"
    OLE_DAMAGED = "ole_damaged", ERROR, "文件已损坏（OLE结构不完整，可能下载或复制不完整）。请重新发送。"
    OFFICE_NOT_EXCEL = "office_not_excel", ERROR, "文件是Office文档（如Word），不是Excel工作簿。请发送填写好的.xlsx文件。"
    HTML = "html", ERROR, "文件实际是网页（HTML），只是扩展名像Excel，不是填报表。请用Excel打开后另存为.xlsx再发送。"
    XML_TEXT = "xml_text", ERROR, "文件是XML文本，不是Excel工作簿。请另存为.xlsx再发送。"
    PDF = "pdf", ERROR, "文件是PDF，不是Excel工作簿。请发送填写好的.xlsx文件。"
    EMPTY_ZIP = "empty_zip", ERROR, "文件是空的或损坏的压缩包，不是完整的Excel工作簿。请重新发送。"
    NOT_A_WORKBOOK = "not_a_workbook", ERROR, "文件不是Excel工作簿（可能是文本、CSV或下载不完整的文件）。请发送填写好的.xlsx文件。"
    ZIP_DAMAGED = "zip_damaged", ERROR, "文件已损坏（压缩结构不完整，可能下载或复制不完整）。请重新发送。"
    TOO_MANY_PARTS = "too_many_parts", ERROR, "文件内部包含{count}个部件，远超正常填报表，疑为恶意文件，已拒绝。"
    ZIP_BOMB = "zip_bomb", ERROR, "文件解压后达{size} MB，远超正常填报表（压缩炸弹），已拒绝。"
    XLSB_UNSUPPORTED = "xlsb_unsupported", ERROR, "不支持.xlsb格式，请另存为.xlsx后重新发送。"
    ZIP_NOT_EXCEL = "zip_not_excel", ERROR, "文件是压缩包，但不是Excel工作簿。请发送填写好的.xlsx文件。"
    PART_DAMAGED = "part_damaged", ERROR, "文件已损坏（部件{part}无法解压）。请重新发送。"
    XML_ENTITIES = "xml_entities", ERROR, "文件部件{part}含有XML实体声明（可能是XML炸弹或外部实体攻击），已拒绝。"
    SHARED_STRINGS = "shared_strings", ERROR, "文件的共享字符串数量声称为{count}，远超正常填报表，已拒绝。"
    SHEET_PART_TOO_LARGE = "sheet_part_too_large", ERROR, "工作表部件{part}的范围达到第{rows}行、第{columns}列，远超正常填报表（可能导致读取程序崩溃），已拒绝。"
    # intake: what is skipped when gathering (listed in 来源)
    SKIP_MISSING = "skip_missing", WARNING, "文件不存在"
    SKIP_INACCESSIBLE = "skip_inaccessible", WARNING, "无法访问（{reason}）"
    SKIP_UNREADABLE_FOLDER = "skip_unreadable_folder", WARNING, "文件夹无法读取（{reason}），其中的文件未读取"
    SKIP_SYMLINK = "skip_symlink", INFO, "符号链接，未跟随"
    SKIP_SPECIAL = "skip_special", WARNING, "不是普通文件（管道、设备等），已跳过"
    SKIP_LOCK = "skip_lock", INFO, "Office临时锁定文件，已跳过"
    SKIP_HIDDEN = "skip_hidden", INFO, "隐藏文件，已跳过"
    SKIP_MAIL = "skip_mail", WARNING, "Apple Mail 的邮件文件（{suffix}）不能直接读取。请在邮件程序中把邮件另存为.eml，或把附件另存后再汇总。"
    SKIP_ARCHIVE = "skip_archive", WARNING, "压缩包（{suffix}）不能直接读取（只读取.zip）。请先解压，再把其中的填报表交给程序。"
    SKIP_SUFFIX = "skip_suffix", INFO, "扩展名{suffix}不是Excel工作簿，已跳过（如确是填报表，请改为.xlsx）"
    SKIP_SAME_PATH = "skip_same_path", WARNING, "同一文件重复指定，只读取一次"
    # the coordinator's adjustments (复核、更正) and exclusions
    ADJUSTMENTS_NO_SHEET = "adjustments_no_sheet", ERROR, "调整表中没有“{sheet}”工作表，未作任何调整。请使用 adjustments-template 生成的调整表。"
    ADJUSTMENT_DISTRICT = "adjustment_district", ERROR, "“{sheet}”工作表第{row}行：区“{raw}”不是本次考核的区，该行未采用。请填写区名单中的区名。"
    ADJUSTMENT_CODE = "adjustment_code", ERROR, "“{sheet}”工作表第{row}行：编号“{raw}”不是本细则的指标，该行未采用。请从下拉列表选择编号。"
    ADJUSTMENT_NO_REASON = "adjustment_no_reason", ERROR, "“{sheet}”工作表第{row}行没有写调整理由，该行未采用。每项调整都必须写明理由。"
    ADJUSTMENT_VALUE = "adjustment_value", ERROR, "“{sheet}”工作表第{row}行的新值不能采用：{reason}"
    EXCLUSION_UNMATCHED = "exclusion_unmatched", ERROR, "“排除文件”第{row}行的“{raw}”与读取的任何文件都不相符，没有排除任何文件。请照“来源”中显示的文件名、附件名或SHA-256填写。"
    FILE_EXCLUDED = "file_excluded", INFO, "按调整表排除：{reason}"
    # mail as input
    MAIL_NOT_A_MESSAGE = "mail_not_a_message", ERROR, "文件不是邮件（也不是Outlook邮件），已忽略。"
    MAIL_NO_WORKBOOK = "mail_no_workbook", WARNING, "邮件或压缩包中没有Excel工作簿附件，已忽略。"
    MAIL_ENCRYPTED = "mail_encrypted", ERROR, "邮件经过S/MIME加密，无法读取附件。请让该部门不加密重新发送。"
    MAIL_TNEF = "mail_tnef", ERROR, "附件是Outlook的winmail.dat格式（TNEF），无法读取其中的工作簿。请让该部门以普通附件（不用RTF格式）重新发送。"
    MAIL_BROKEN_ATTACHMENT = "mail_broken_attachment", ERROR, "附件编码已损坏（base64不完整），无法读取。请让该部门重新发送。"
    MAIL_TOO_DEEP = "mail_too_deep", ERROR, "邮件中转发的邮件层层嵌套超过{limit}层，更深的部分未读取。"
    MAIL_TOO_MANY_ATTACHMENTS = "mail_too_many_attachments", ERROR, "邮件附件超过{limit}个，远超正常填报，其余附件未读取。"
    MAIL_TOO_MANY_MESSAGES = "mail_too_many_messages", ERROR, "邮箱文件有{count}封邮件，超过上限，只读取了{limit}封（先取带附件的、再取较新的）；未读取{skipped}封，其中带附件的{attached}封：{numbers}。请把邮箱分成几个较小的文件（或用 fetch 只收带工作簿的邮件）后重新汇总。"
    MAIL_NESTED_TOO_DEEP = "mail_nested_too_deep", ERROR, "邮件的各部分层层嵌套，深到无法解析（可能是恶意构造的邮件），已拒绝；其他邮件照常读取。请让发件人直接附上工作簿重新发送。"
    MAILBOX_NO_WORKBOOK = "mailbox_no_workbook", WARNING, "邮箱中{count}封邮件没有Excel工作簿附件，已跳过：{numbers}。"
    PART_CHANGED = "part_changed", ERROR, "读取过程中文件被改动（附件与先前读到的不一致），未读取。请在文件不再变化时重新汇总。"
    MAIL_UNKNOWN_SENDER = "mail_unknown_sender", WARNING, "发件人{sender}不在通讯录中（已读取；发件地址不能证明身份，请核实该文件确由负责部门发送）。"
    MAIL_TOO_MUCH = "mail_too_much", ERROR, "从同一个邮件文件中取出的附件总量超过300 MB，其余附件未读取。"
    # mail the coordinator sends (通讯录, --from, the send log)
    CONTACTS_UNREADABLE = "contacts_unreadable", ERROR, "通讯录 {path} 无法读取（{reason}）。请使用 contacts-template 生成的表，或另存为UTF-8编码的.csv文件。"
    CONTACT_DEPARTMENT_UNKNOWN = "contact_department_unknown", ERROR, "{at}：部门“{raw}”不在评分细则的部门中，该行未采用。请填写评分细则中的部门名称（如{example}）。"
    CONTACT_NO_ADDRESS = "contact_no_address", ERROR, "{at}：{department}未填写邮箱，不给该部门发邮件。请填写邮箱，如 zhangsan@hbj.gov.cn。"
    CONTACT_ADDRESS_INVALID = "contact_address_invalid", ERROR, "{at}：{department}的邮箱“{raw}”无效，该行未采用。请填写邮箱地址，如 zhangsan@hbj.gov.cn 或 张三 <zhangsan@hbj.gov.cn>；多个邮箱用分号隔开。"
    CONTACT_ADDRESS_UNICODE = "contact_address_unicode", ERROR, "{at}：{department}的邮箱“{raw}”在@之前含有中文或其他非英文字符，许多邮件服务器和邮件程序无法投递，该行未采用。请改用只含英文字母、数字和 . - _ 的邮箱地址。"
    SENDER_NEWLINE = "sender_newline", ERROR, "--from 的值含有换行符，不能作为发件人。请只写一个发件人，如 zhc@hbj.gov.cn 或 \"市环保局综合处 <zhc@hbj.gov.cn>\"。"
    SENDER_INVALID = "sender_invalid", ERROR, "--from 的值“{raw}”不是有效的发件人。请写成 zhc@hbj.gov.cn 或 \"市环保局综合处 <zhc@hbj.gov.cn>\"（邮箱地址只能含英文字母、数字和 . - _）。"
    SEND_NO_ADDRESS = "send_no_address", ERROR, "通讯录中没有这些部门的邮箱，没有给它们发送：{departments}。请在通讯录中填写邮箱后重新运行（已发送的不会重发）。"
    SEND_NO_FORM = "send_no_form", ERROR, "文件夹 {folder} 中没有这些部门的填报表，没有给它们发送：{departments}。请先用 forms 命令生成填报表。"
    SEND_LOG_UNWRITABLE = "send_log_unwritable", ERROR, "发送记录 {path} 无法写入（{reason}）。为避免以后重复发送，没有发送任何邮件。请检查磁盘空间和文件夹的写入权限，或用 --outbox 换一个文件夹。"
    SEND_LOG_FAILED = "send_log_failed", ERROR, "发送记录 {path} 写入失败（{reason}），已停止发送。以下邮件已被服务器接收但没能记入发送记录，请手工补记，以免重新运行时重发：{messages}。"
    SEND_LOG_UNREADABLE = "send_log_unreadable", ERROR, "发送记录 {path} 无法读取（{reason}），不知道哪些邮件已发送过，没有发送任何邮件。请检查该文件，或用 --outbox 换一个文件夹。"
    SEND_DISCONNECTED = "send_disconnected", ERROR, "与SMTP服务器的连接中断（{reason}），其余{count}封没有发送。已发送的已记入发送记录；重新运行本命令即可补发，已发送的不会重发。"
    SEND_QUIT_REFUSED = "send_quit_refused", INFO, "SMTP服务器在结束会话时回应异常（{reason}）；这不影响已被服务器接收的邮件。"
    SEND_CONNECT_FAILED = "send_connect_failed", ERROR, "无法连接或登录SMTP服务器 {server}（{reason}），没有发送任何邮件。请检查服务器地址、端口、--ssl/--starttls、用户名和密码。"
    SEND_NOTHING_PENDING = "send_nothing_pending", INFO, "没有需要发送的邮件（都已发送过，见发送记录）。"
    SEND_NOTHING = "send_nothing", INFO, "没有需要发送的邮件。"
    SEND_DRAFTED = "send_drafted", INFO, "已写出{count}封邮件草稿到 {folder}，请用邮件程序打开检查后发送。"
    SEND_SENT = "send_sent", INFO, "已发送{count}封邮件。"
    SEND_FAILED_ONE = "send_failed_one", ERROR, "发送失败 {department}（{address}）：{reason}"
    SEND_PROGRESS = "send_progress", INFO, "第{done}封，共{total}封：{department}（{addresses}）{results}"
    # fetch: what the IMAP server did (clauses; the command line makes sentences of them)
    FETCH_TIMEOUT = "fetch_timeout", ERROR, "服务器{seconds}秒内没有完成应答（过慢或不再响应；可用 --timeout 延长等待）"
    FETCH_RESPONSE_TOO_LONG = "fetch_response_too_long", ERROR, "服务器的应答远超正常长度（可能是无休止的应答），已断开"
    FETCH_LITERAL_TOO_LARGE = "fetch_literal_too_large", ERROR, "服务器声称要发送{size} MB，超过上限{limit} MB，没有接收"
    FETCH_LOGIN_FAILED = "fetch_login_failed", ERROR, "邮箱 {user} 登录失败：用户名或密码不对"
    FETCH_NO_FOLDER = "fetch_no_folder", ERROR, "邮箱中没有文件夹“{folder}”或无权打开它。请用 --folder 给出正确的文件夹名"
    FETCH_SEARCH_REFUSED = "fetch_search_refused", ERROR, "服务器拒绝列出文件夹中的邮件"
    FETCH_REFUSED = "fetch_refused", WARNING, "服务器暂时没有提供这封邮件（答复{status}）"
    FETCH_NO_CONTENT = "fetch_no_content", WARNING, "服务器的应答中没有邮件内容"
    FETCH_CERTIFICATE = "fetch_certificate", ERROR, "{host} 的证书无法验证：{reason}。如是单位自签证书，请用 --cafile 给出其CA证书"
    FETCH_TLS_FAILED = "fetch_tls_failed", ERROR, "无法与 {host} 的端口{port}建立加密连接。请检查端口和连接方式（993端口用 --security ssl，143端口用 --security starttls）"
    FETCH_REFUSED_CONNECTION = "fetch_refused_connection", ERROR, "{host} 拒绝了端口{port}上的连接（该端口没有邮件服务）。请检查服务器名、端口和连接方式"
    FETCH_UNKNOWN_HOST = "fetch_unknown_host", ERROR, "找不到服务器 {host}。请检查服务器名和网络"
    FETCH_CONNECTION_CLOSED = "fetch_connection_closed", ERROR, "{host} 中断了连接"
    FETCH_PROTOCOL = "fetch_protocol", ERROR, "{host} 的应答不符合IMAP协议"
    FETCH_NETWORK = "fetch_network", ERROR, "无法连接 {host} 的端口{port}（网络错误）。请检查服务器、端口和网络"
    FETCH_WORKER_FAILED = "fetch_worker_failed", ERROR, "本机无法启动检查邮件的子进程（不是邮件的问题）"
    # fetch: one message (full sentences)
    FETCH_MESSAGE_TOO_LARGE = "fetch_message_too_large", WARNING, "UID {uid} 的邮件有{size} MB，超过上限{limit} MB，没有下载。请在邮件程序中把其附件另存后交给 collect，或请发件人压缩后重发。"
    FETCH_MESSAGE_FAILED = "fetch_message_failed", WARNING, "UID {uid} 的邮件没有收到：{reason}。下次运行 fetch 时会再试。"
    FETCH_LOST_CONNECTION = "fetch_lost_connection", WARNING, "与服务器的连接断开后无法重新连接；已收到的邮件已保存，其余{count}封下次运行 fetch 时再收。"
    FETCH_MESSAGE_REFUSED = "fetch_message_refused", ERROR, "UID {uid} 的邮件{about}无法读取，已跳过：{reason}。该邮件不会再次下载；如确是填报，请在邮件程序中把附件另存后交给 collect。"
    FETCH_PARSE_CRASH = "fetch_parse_crash", ERROR, "解析时程序崩溃（邮件结构异常，可能是恶意构造的邮件）"
    FETCH_PARSE_TIMEOUT = "fetch_parse_timeout", ERROR, "解析超时（邮件结构异常）"
    FETCH_PARSE_MEMORY = "fetch_parse_memory", ERROR, "解析需要的内存远超正常邮件（邮件结构异常）"
    FETCH_PARSE_DEEP = "fetch_parse_deep", ERROR, "邮件的多部分结构层层嵌套过深（可能是恶意构造的邮件）"
    FETCH_PARSE_ERROR = "fetch_parse_error", ERROR, "邮件结构异常，无法解析"
    FETCH_HEADER_TOO_LARGE = "fetch_header_too_large", ERROR, "邮件头异常过长（单个邮件头超过16 KB或邮件头共超过256 KB，可能是恶意构造的邮件）"
    # compared with last year
    PREVIOUS_NOT_SCORECARD = "previous_not_scorecard", ERROR, "上年结果文件不是本工具生成的考核结果工作簿，无法比较。请给出上年用 collect 生成的 .xlsx 文件。"
    PREVIOUS_NO_DATA = "previous_no_data", ERROR, "上年结果文件中没有可比较的数据（可能由旧版本生成）。"
    PREVIOUS_INVALID = "previous_invalid", ERROR, "上年结果文件隐藏信息中的得分不是有效数字（如Infinity、NaN，文件可能被改动过），无法比较。请给出上年用 collect 生成的原始文件。"
    IMPLAUSIBLE_CHANGE = "implausible_change", INFO, "与上年相比变化异常：上年{last}（{previous_file}），今年{now}（{reason}），请核实。"
    PREVIOUS_RULES_CHANGED = "previous_rules_changed", INFO, "上年（{year}年度）的细则没有以下指标或类型不同，无法与上年比较：{codes}。"
    PREVIOUS_NO_VALUES = "previous_no_values", INFO, "上年（{year}年度）的结果中没有以下指标的数据（上年未填写，或细则不同），无法与上年比较：{codes}。"
    # writing files, the year's folder and the console
    WRITE_NO_SPACE = "write_no_space", ERROR, "磁盘空间不足，无法写入 {where}。请清理磁盘后重试；没有写出任何文件，原文件未改动。"
    WRITE_PERMISSION = "write_permission", ERROR, "无法写入 {where}：没有权限或文件被占用（可能正在Excel中打开）。请关闭文件或换一个位置后重试；原文件未改动。"
    WRITE_NOT_FOLDER = "write_not_folder", ERROR, "无法写入 {where}：路径中有同名的文件而不是文件夹。请换一个输出位置。"
    WRITE_FAILED = "write_failed", ERROR, "无法写入 {where}（{reason}）。请换一个输出位置后重试；原文件未改动。"
    FILE_OPEN_ELSEWHERE = "file_open_elsewhere", ERROR, "{where} 正在被Excel、WPS或LibreOffice打开。请先关闭该文件再运行；原文件未改动。"
    YEAR_BUSY = "year_busy", ERROR, "年度文件夹 {where} 正在被另一个操作使用（{holder}）。请等它完成后再试；没有改动任何文件。"
    YEAR_NOT_A_YEAR = "year_not_a_year", ERROR, "{where} 不是年度文件夹（其中没有{settings}）。要新建年度，请给出一个还不存在的文件夹或空文件夹（如 2008年考核），程序会在其中新建；collect 等命令也可以直接给出收件箱等文件和文件夹。"
    YEAR_EXISTS = "year_exists", ERROR, "{where} 已经存在且不是空文件夹，没有在其中新建年度文件夹。请换一个文件夹名，或直接打开它。"
    YEAR_SETTINGS_INVALID = "year_settings_invalid", WARNING, "{where} 的格式不正确（{reason}），已按默认设置读取。请在控制台的“设置”页重新保存。"
    COLLECT_NO_OUTPUT = "collect_no_output", ERROR, "缺少选项 -o/--output（考核结果的保存路径）。只给出一个年度文件夹时可以省略，结果写入其“结果”文件夹。用 --help 查看用法。"
    YEAR_NO_DISTRICTS = "year_no_districts", ERROR, "年度文件夹中还没有区名单（{where}）。请在“设置”页填写区名单。"
    PATH_OUTSIDE_YEAR = "path_outside_year", ERROR, "“{name}”不在年度文件夹的{area}中，拒绝访问。"
    UPLOAD_TOO_LARGE = "upload_too_large", ERROR, "上传的文件“{file}”超过{limit} MB，已拒绝。请只上传填报表、压缩包或邮件。"
    UPLOAD_TOO_MANY = "upload_too_many", ERROR, "一次最多上传{limit}个文件。请分批上传。"
    UPLOAD_TOTAL = "upload_total", ERROR, "本次上传合计超过{limit} MB，已拒绝，没有保存任何文件。请分批上传。"
    UPLOAD_EMPTY = "upload_empty", ERROR, "没有选择要上传的文件。"
    UPLOAD_STORED = "upload_stored", INFO, "“{file}”已存入收件箱。"
    UPLOAD_STORED_MANY = "upload_stored_many", INFO, "{count}个文件已存入收件箱。"
    UPLOAD_RENAMED = "upload_renamed", INFO, "“{file}”已存入收件箱，保存为“{name}”。"
    UPLOAD_SAME = "upload_same", INFO, "“{file}”与收件箱中的“{other}”内容相同，未重复保存。"
    CONSOLE_NO_TOKEN = "console_no_token", ERROR, "需要凭据才能打开考核控制台。请使用启动时显示（或自动打开）的完整网址，其中含有 token=…。"
    CONSOLE_BAD_HOST = "console_bad_host", ERROR, "拒绝访问：请求的主机名“{host}”不是本机的考核控制台。请使用启动时显示的网址（127.0.0.1）。"
    CONSOLE_BAD_CSRF = "console_bad_csrf", ERROR, "页面已过期或请求不是来自考核控制台本身，没有执行。请刷新页面后重试。"
    CONSOLE_NOT_FOUND = "console_not_found", ERROR, "没有这个页面或文件：{name}。"
    CONSOLE_FIELD_MISSING = "console_field_missing", ERROR, "请填写“{field}”。"
    CONSOLE_JOB_RUNNING = "console_job_running", ERROR, "“{job}”正在进行，请等它完成后再操作。"
    CONSOLE_PORT_BUSY = "console_port_busy", ERROR, "端口{port}已被占用，考核控制台无法启动。请换一个端口（--port 8766），或不写 --port 由程序自动选择。"
    CONSOLE_NO_SENDER = "console_no_sender", ERROR, "发件人“{raw}”不是有效的邮箱，无法生成催报邮件。请在“设置”页填写发件人，如：市环保局综合处 <zhc@hbj.gov.cn>。"
    CONSOLE_NO_REMINDERS = "console_no_reminders", WARNING, "没有可以生成的催报邮件：这些部门不欠报，或通讯录中没有它们的邮箱。请在“设置”页填写通讯录。"
    CONSOLE_NO_RETURNS = "console_no_returns", WARNING, "这些部门没有需要退回修改的内容。"
    CONSOLE_NO_SMTP = "console_no_smtp", ERROR, "还没有填写SMTP服务器，无法直接发送。请在“设置”页填写SMTP服务器（如 smtp.hbj.gov.cn:465）和连接方式，或改为写成草稿。"
    CONSOLE_SENDING = "console_sending", INFO, "正在通过SMTP服务器 {server} 发送{kind}邮件（{count}封）……"
    CONSOLE_DRAFTING = "console_drafting", INFO, "正在把{kind}邮件写成草稿（{count}封），存入发件箱……"
    FILE_VERDICT = "file_verdict", INFO, "第{number}个文件 {file}：{status}{reason}"
    CONSOLE_NO_IMAP = "console_no_imap", ERROR, "还没有填写IMAP服务器和用户名，无法收取邮件。请在“设置”页填写IMAP服务器（如 imap.hbj.gov.cn，或 服务器:端口）、连接方式和用户名。"
    CONSOLE_FETCHING = "console_fetching", INFO, "正在连接 {host}，收取 {user} 的“{folder}”中的新邮件（只读，不改动服务器上的邮件）……"
    CONSOLE_NOTHING_TO_PUBLISH = "console_nothing_to_publish", WARNING, "还没有可以发布的考核结果。请先在“收件”页上传并读取交回的填报表。"
    CONSOLE_NOTHING_READ = "console_nothing_read", WARNING, "还没有读到本细则的填报表。请先在“收件”页上传并读取交回的填报表。"
    # the command line: what it refuses before any work is done (exit 2)
    RULEBOOK_UNUSABLE = "rulebook_unusable", ERROR, "评分细则无法使用：\n{problems}"
    OUTPUT_EXISTS = "output_exists", ERROR, "{target} 已存在，没有覆盖（其中可能已有填写的内容）。换一个文件名，或加 --force 覆盖。"
    RULES_SUFFIX = "rules_suffix", ERROR, "评分细则只能保存为 .yaml 或 .xlsx，不能保存为“{suffix}”。"
    OUTPUT_NOT_XLSX = "output_not_xlsx", ERROR, "{what}只能保存为.xlsx工作簿，不能保存为“{suffix}”。请改为 {suggested}。"
    DISTRICTS_NOT_UTF8 = "districts_not_utf8", ERROR, "区名单文件 {path} 不是UTF-8编码。请用记事本“另存为”UTF-8后重试。"
    DISTRICTS_UNUSABLE = "districts_unusable", ERROR, "区名单不能使用：\n{reasons}"
    FORMS_UNUSABLE = "forms_unusable", ERROR, "无法生成填报表：\n{problems}"
    FORMS_FOLDER_FOREIGN = "forms_folder_foreign", ERROR, "文件夹 {folder} 中已有其他区名单或其他细则的填报表（{clashes}）。请换一个文件夹，或加 --force 覆盖。"
    FORMS_NO_DISTRICTS = "forms_no_districts", ERROR, "缺少选项 --districts（被考核的区）。用 --help 查看用法。"
    READ_WORKER_FAILED = "read_worker_failed", ERROR, "本机无法启动读取进程，以下文件未能读取：{files}。请检查内存和安装后重试。"
    READ_NOTHING = "read_nothing", ERROR, "没有读到任何本细则的填报表。{details}"
    COLLECT_WORKER_FAILED = "collect_worker_failed", ERROR, "本机无法启动读取进程，以下文件未能读取（不是文件本身的问题）：{files}。为免结果不全，没有写出报告。请检查内存和安装后重试。"
    COLLECT_OUTPUT_IS_INPUT = "collect_output_is_input", ERROR, "报告路径 {where} 是交回的填报表之一。请为报告另选文件名，以免覆盖交回的填报表。"
    COLLECT_NOTHING_READ = "collect_nothing_read", ERROR, "没有读到任何本细则的填报表（详见下方问题）。{details}"
    NOTICE_TEMPLATE_UNUSABLE = "notice_template_unusable", ERROR, "通报模板 {path} 无法使用（{reason}）。请使用Word保存的.docx文件。"
    FETCH_DATE_INVALID = "fetch_date_invalid", ERROR, "日期“{raw}”无效。请写成 2008-01-01 这样的格式。"
    FETCH_RECORD_UNWRITABLE = "fetch_record_unwritable", ERROR, "无法写入已检查邮件的记录 {path}（{reason}）。没有这份记录，下次运行会重复下载，因此没有收取邮件。请检查该文件夹的权限和磁盘空间，或用 -o 换一个文件夹。"
    FETCH_SAVED = "fetch_saved", INFO, "收到{count}封带工作簿的新邮件，已存入 {folder}。"
    FETCH_NO_WORKBOOK = "fetch_no_workbook", INFO, "没有带工作簿的新邮件。"
    FETCH_NOTHING_NEW = "fetch_nothing_new", INFO, "没有新邮件。"
    FETCH_WITHOUT_WORKBOOK = "fetch_without_workbook", INFO, "另有{count}封新邮件没有工作簿附件，以后不再下载。"
    FETCH_ALREADY = "fetch_already", INFO, "{count}封新邮件以前已经保存过，没有重复保存。"
    FETCH_PROGRESS = "fetch_progress", INFO, "已下载第{done}封，共{total}封新邮件"
    FETCH_SKIPPED = "fetch_skipped", ERROR, "已跳过：{line}"
    FETCH_NOT_RECEIVED = "fetch_not_received", WARNING, "未收到：{line}"
    FETCH_FAILED = "fetch_failed", ERROR, "无法从 {host} 收取邮件：{reason}。"
    CANCELLED = "cancelled", INFO, "已取消。"
    USAGE_MISSING_OPTION = "usage_missing_option", ERROR, "缺少选项 {name}。用 --help 查看用法。"
    USAGE_MISSING_ARGUMENT = "usage_missing_argument", ERROR, "缺少参数 {name}。用 --help 查看用法。"
    USAGE_NO_OPTION = "usage_no_option", ERROR, "没有选项 {name}。用 --help 查看用法。"
    USAGE_BAD_CHOICE = "usage_bad_choice", ERROR, "选项 {name} 的值无效，可选：{choices}。"
    USAGE_BAD_VALUE = "usage_bad_value", ERROR, "{name} 的值无效（{reason}）。用 --help 查看用法。"
    USAGE_NO_COMMAND = "usage_no_command", ERROR, "没有这个命令（{raw}）。可用命令：{commands}。"
    USAGE_PATH_MISSING = "usage_path_missing", ERROR, "{name} 指定的{kind}“{path}”不存在。请检查路径和文件名后重试。"
    USAGE_PATH_IS_FILE = "usage_path_is_file", ERROR, "{name} 要的是文件夹，“{path}”是一个文件。请给出文件夹。"
    USAGE_PATH_IS_FOLDER = "usage_path_is_folder", ERROR, "{name} 要的是文件，“{path}”是一个文件夹。请给出文件。"
    USAGE_PATH_DENIED = "usage_path_denied", ERROR, "{name} 指定的“{path}”无权{access}。请检查文件权限。"
    USAGE_NOT_NUMBER = "usage_not_number", ERROR, "{name} 的值“{value}”不是数字。请填写一个数字。"
    USAGE_OUT_OF_RANGE = "usage_out_of_range", ERROR, "{name} 的值 {value} 超出允许范围：应{range}。"
    USAGE_OTHER = "usage_other", ERROR, "用法错误（{reason}）。用 --help 查看用法。"
    PATH_INACCESSIBLE = "path_inaccessible", ERROR, "无法访问{where}（{reason}）。请检查路径后重试。"
    # the sealed year (seal, verify): what verify says
    SEAL_NOT_A_BUNDLE = "seal_not_a_bundle", ERROR, "{bundle} 不是封存包（{reason}）。请给出 seal 生成的 .zip 文件或其解压后的文件夹。"
    SEAL_NO_RECORD = "seal_no_record", ERROR, "封存包中没有可读的运行记录 data/record.json（{reason}）。请给出 seal 生成的完整封存包。"
    SEAL_NEWER_FORMAT = "seal_newer_format", ERROR, "此封存包由较新版本的assess-xl（{made_by}，记录格式{made_format}）生成，本机是{here}，记录格式{format}，无法按原样重新计算。请升级assess-xl后再核验。"
    SEAL_NEWER = "seal_newer", ERROR, "此封存包由较新版本的assess-xl（{made_by}）生成，本机是{here}，无法按原样重新计算。请升级assess-xl后再核验。"
    SEAL_RULEBOOK_NEWER = "seal_rulebook_newer", ERROR, "封存包中的评分细则本版本无法读取（可能由较新版本的assess-xl或较新的细则格式制作）：{messages} 请升级assess-xl后再核验。"
    SEAL_RERUN_FAILED = "seal_rerun_failed", ERROR, "重新计算的进程没有给出结果（退出状态{status}）。请确认本机可以运行 assess-xl collect 后重试。"
    SEAL_RERUN_NOTHING = "seal_rerun_nothing", ERROR, "用封存包内的文件重新计算，没有得出考核结果（没有读到本细则的填报表，或读取进程无法启动）。请检查封存包是否完整。"
    SEAL_FILE_CHANGED = "seal_file_changed", ERROR, "{path}：内容与清单不符（已被改动）"
    SEAL_FILE_MISSING = "seal_file_missing", ERROR, "{path}：清单中有而包中缺少"
    SEAL_FILE_UNEXPECTED = "seal_file_unexpected", ERROR, "{path}：包中有而清单中没有"
    SEAL_BAG_INVALID = "seal_bag_invalid", ERROR, "{path}：不符合BagIt格式（bagit.txt、清单或包信息缺少或有误）"
    SEAL_FIGURE_DIFFERS = "seal_figure_differs", ERROR, "{what}：封存记录 {sealed}，重新计算 {again}"
    # documents
    SOFFICE_MISSING = "soffice_missing", ERROR, "没有找到LibreOffice（soffice），无法生成PDF；考核结果工作簿和通报不受影响。请安装：sudo apt-get install libreoffice-calc-nogui fonts-noto-cjk（Windows请安装LibreOffice并把其program文件夹加入PATH）。"
    PDF_NOT_SCORECARD = "pdf_not_scorecard", ERROR, "{file}不是本工具生成的考核结果工作簿（没有相符的隐藏“结果信息”），不转换为PDF。请给出 collect 生成的 .xlsx 文件。"
    PDF_EXTERNAL = "pdf_external", ERROR, "{file}引用了外部内容（{targets}），不是本工具生成的考核结果，不转换为PDF（以免LibreOffice访问这些地址）。请用 collect 重新生成考核结果。"
    SOFFICE_FAILED = "soffice_failed", ERROR, "LibreOffice未能生成PDF（{reason}）。请确认LibreOffice可以正常启动后重试。"
    # the rulebook as a workbook
    RULE_SHEET_MISSING = "rule_sheet_missing", ERROR, "{at}：缺少工作表“{sheet}”。请用 rules export 或 rules init 生成的工作簿修改。"
    RULE_SHEET_DUPLICATE_CODE = "rule_sheet_duplicate_code", ERROR, "{at}：指标编号“{code}”重复（已在{first}使用）。"
    RULE_SHEET_REFERENCE = "rule_sheet_reference", ERROR, "{at}：“{value}”在“{sheet}”表中不存在。"
    RULE_SHEET_KIND_MISSING = "rule_sheet_kind_missing", ERROR, "{at}：这一行没有计分方式。请从下拉列表选择计分方式，或删除这一行。"
    RULE_SHEET_ALTERNATIVE_NAME = "rule_sheet_alternative_name", ERROR, "{at}：写了解读说明，但这一行没有“另一种解读”的名称。请在同一行填写解读名称，或清空解读说明。"
    RULE_SHEET_ALTERNATIVE_TARGET = "rule_sheet_alternative_target", ERROR, "{at}：另一种解读“{name}”的指标“{code}”属于目标{target}，而这一解读从{where}起是目标{first}的。一种解读只替换一个目标的计分：请改为目标{first}的指标编号，或为这一行另起一个解读名称。"
    RULE_SHEET_ALTERNATIVE_NOTE = "rule_sheet_alternative_note", ERROR, "{at}：另一种解读“{name}”的解读说明与{first}所写的不同。每种解读只写一个说明：请删去这一格，或改成与第一处相同。"
    # the rulebook: errors stop `rules check` and every command (exit 2); warnings are shown
    RULE_FILE_MISSING = "rule_file_missing", ERROR, "{at}：找不到评分细则文件。"
    RULE_UNREADABLE = "rule_unreadable", ERROR, "{at}：无法读取评分细则（{reason}），请确认是UTF-8编码的YAML文件。"
    RULE_YAML = "rule_yaml", ERROR, "{at}：YAML格式错误（{reason}）。"
    RULE_NOT_A_RULEBOOK = "rule_not_a_rulebook", ERROR, "{at}：内容不是评分细则（应包含 year、departments、categories、targets）。"
    RULE_KEY_MISSING = "rule_key_missing", ERROR, "{at}：缺少“{key}”。"
    RULE_CATEGORY_INCOMPLETE = "rule_category_incomplete", ERROR, "{at}：类别 {entry} 须有 number、name 和 points（加分类写 bonus: true）。"
    RULE_YEAR = "rule_year", ERROR, "{at}：年度应为四位数字的年份（如2008），而写的是“{value}”。请只填写数字。"
    RULE_NOT_NUMBER = "rule_not_number", ERROR, "{at}：{what}应为数字，而写的是“{value}”。请只填写数字，如2或0.5。"
    RULE_DEPARTMENT_NAME = "rule_department_name", ERROR, "{at}：部门名称“{department}”不能作为填报表的工作表名：{reason}。请改用不超过31个字符、不含 [ ] : * ? / \\ 的名称。"
    RULE_DEPARTMENT_DUPLICATE = "rule_department_duplicate", ERROR, "{at}：部门“{department}”与“{other}”只差全角/半角、空格或大小写，会被当成同一个部门。请删除重复的部门或改用能区分的名称。"
    RULE_CATEGORY_DUPLICATE = "rule_category_duplicate", ERROR, "{at}：类别{number}重复。"
    RULE_TARGET_INCOMPLETE = "rule_target_incomplete", ERROR, "{at}：目标 {entry} 须有 number 和 category。"
    RULE_CATEGORY_UNKNOWN = "rule_category_unknown", ERROR, "{at}：所属类别{category}不存在。"
    RULE_CODE_DUPLICATE = "rule_code_duplicate", ERROR, "{at}：指标编号“{code}”重复使用。"
    RULE_NO_INDICATORS = "rule_no_indicators", ERROR, "{at}：没有填报指标。"
    RULE_CODE_MISSING = "rule_code_missing", ERROR, "{at}：指标缺少编号（code）。"
    RULE_TYPE_UNKNOWN = "rule_type_unknown", ERROR, "{at}：类型“{type}”无效，应为 {types} 之一。"
    RULE_SHEET_NAME_UNKNOWN = "rule_sheet_name_unknown", ERROR, "{at}：“{value}”不是可用的{what}。请从下拉列表选择，可用的{what}：{names}。"
    RULE_SHEET_HEADER_UNKNOWN = "rule_sheet_header_unknown", ERROR, "{at}：表头“{header}”不是计分参数。计分表的表头只能是：{names}。请改为其中之一，多余的列请删除。"
    RULE_DEPARTMENT_UNKNOWN = "rule_department_unknown", ERROR, "{at}：部门“{department}”不在 departments 列表中。"
    RULE_OPTIONS_FEW = "rule_options_few", ERROR, "{at}：选项类指标须列出至少两个选项（options）。"
    RULE_OPTIONS_NOT_CHOICE = "rule_options_not_choice", ERROR, "{at}：只有选项类（choice）指标可以有 options。"
    RULE_BOUNDS_NOT_ALLOWED = "rule_bounds_not_allowed", ERROR, "{at}：{type}类指标不能设置上下限（min/max）。"
    RULE_PERCENT_BOUNDS = "rule_percent_bounds", ERROR, "{at}：比率的上下限应在0到1之间（1即100%）。"
    RULE_MIN_NEGATIVE = "rule_min_negative", ERROR, "{at}：下限不能为负数。"
    RULE_MIN_ABOVE_MAX = "rule_min_above_max", ERROR, "{at}：下限{min}大于上限{max}。"
    RULE_COUNT_BOUNDS = "rule_count_bounds", ERROR, "{at}：数量类指标的上下限须为整数。"
    RULE_MAX_REQUIRED = "rule_max_required", ERROR, "{at}：{type}类指标须设置上限（max）。"
    RULE_KIND_UNKNOWN = "rule_kind_unknown", ERROR, "{at}：未知的计分方式“{kind}”，可用：{kinds}。"
    RULE_PARAMETER_MISSING = "rule_parameter_missing", ERROR, "{at}：计分方式{kind}缺少参数{names}。"
    RULE_PARAMETER_UNKNOWN = "rule_parameter_unknown", ERROR, "{at}：计分方式{kind}没有参数{names}；它的参数是：{allowed}。"
    RULE_KIND_TYPE = "rule_kind_type", ERROR, "{at}：计分方式{kind}不适用于{type}类指标（适用于：{types}）。"
    RULE_PARAMETER_NUMBER = "rule_parameter_number", ERROR, "{at}：计分方式{kind}的参数应为数字（可写分数，如 5/3）：{entry}。"
    RULE_OPTION_POINTS = "rule_option_points", ERROR, "{at}：计分方式{kind}的分值须逐一对应指标的选项，每行“选项=分值”：{options}。"
    RULE_YES_NO = "rule_yes_no", ERROR, "{at}：参数{key}应为“是”或“否”。"
    RULE_POSITIVE = "rule_positive", ERROR, "{at}：参数{names}须大于0。"
    RULE_REFERENCE_UNKNOWN = "rule_reference_unknown", ERROR, "{at}：目标{target}的计分方式引用了不存在的指标“{code}”。"
    RULE_ALTERNATIVE_INCOMPLETE = "rule_alternative_incomplete", ERROR, "{at}：另一种解读（alternatives）须写明名称（name）、目标编号（target）和计分（scoring：指标编号 → 计分方式列表），而这里是：{entry}。"
    RULE_ALTERNATIVE_CODE = "rule_alternative_code", ERROR, "{at}：另一种解读“{name}”的计分引用了指标“{code}”，它不属于目标{target}。请只写目标{target}的指标编号。"
    RULE_REFERENCE_OTHER = "rule_reference_other", ERROR, "{at}：目标{target}的计分方式引用了其他目标的指标“{code}”。"
    RULE_INDICATOR_UNUSED = "rule_indicator_unused", ERROR, "{at}：目标{target}，指标{code}没有任何计分方式使用。"
    RULE_UNREACHABLE = "rule_unreachable", WARNING, "{at}：目标{target}分值{points}分，但计分规则最多只能得{reach}分。"
    RULE_STATED_POINTS = "rule_stated_points", WARNING, "{at}：目标{target}原文标注({stated})分，但各部分合计{reach}分。"
    RULE_UNCAPPED_IN_BASIC = "rule_uncapped_in_basic", WARNING, "{at}：类别{category}有不封顶的目标，但该类不是加分类。"
    RULE_CATEGORY_SUM = "rule_category_sum", WARNING, "{at}：类别{category}“{name}”分值{points}分，但其目标满分合计{total}分。"

CATALOGUE: dict[Code, tuple[Level, str]] = {code: (code.level, code.template) for code in Code}


@dataclass(frozen=True)
class Problem:
    level: str
    kind: str
    message: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    district: str = ""
    code: str = ""
    raw: str = ""

    def as_row(self) -> dict[str, str]:
        return asdict(self)

    def with_district(self, district: str) -> "Problem":
        return replace(self, district=district)


def code_of(code: Code | str) -> Code:
    """The catalogue entry of `code` (a Code, or its string as stored in Problem.kind); KeyError when
    the string is not a catalogue code."""
    return code if isinstance(code, Code) else cast(Code, Code._value2member_map_[code])


class _Fields(dict[str, object]):
    """Formatting fields where a missing one reads as empty instead of raising mid-run."""

    def __missing__(self, key: str) -> str:
        return ""


def text(code: Code, /, **fields: object) -> str:
    """The catalogue message of `code` with `fields`; never raises for a missing or odd field."""
    return _formatted(code_of(code).template, fields)


def _formatted(template: str, fields: dict[str, object]) -> str:
    """`template` with `fields` (changed in place: None reads as empty, as a missing field does)."""
    for key, value in fields.items():
        if value is None:
            fields[key] = ""
    return _format(template, fields)


def _format(template: str, fields: Mapping[str, object]) -> str:
    """`template` with `fields`, none of them None; a missing field reads as empty."""
    try:
        return template.format_map(fields)  # every field given, as for most problems: no copy into _Fields
    except KeyError:
        return template.format_map(_Fields(fields))


def make(kind: Code, /, *, file: object = "", sheet: object = "", cell: object = "", district: object = "",
         code: object = "", raw: object = "", level: str | None = None, **fields: object) -> Problem:
    """A Problem of `kind` at the given place, its message from the catalogue."""
    kind = code_of(kind)
    raw_text = shorten(raw)
    message = _message(kind, fields, raw=raw_text, file=file, sheet=sheet, district=district, code=code)
    return Problem(level or kind.level, kind._value_, message, str(file), str(sheet), str(cell), str(district),
                   str(code), raw_text)  # _value_: Enum's `value` is a property, looked up in the class each time


def _message(kind: Code, fields: dict[str, object], **place: object) -> str:
    """The message of a problem of `kind` with `fields` and its place (file, sheet, district, code and the entry
    shortened, as raw), which its template may name too; `fields` is changed."""
    fields.update(place)
    return _formatted(kind.template, fields)


PLACE = ("file", "sheet", "cell", "district", "code")  # where a problem is: make's keywords and Problem's fields


def make_many(kinds: list[Code], columns: Mapping[str, Sequence[object]]) -> list[Problem]:
    """make(kinds[n], **{name: column[n] for name, column in columns.items()}) for each n (no column `level`): the
    same Problems, made column by column: each message joined from its kind's template's parts and its fields' texts,
    or by str.format with the fields given by position (no dict of fields for each), each field a column."""
    count = len(kinds)
    given: dict[str, Sequence[object]] = {name: columns.get(name, [""] * count) for name in (*PLACE, "raw")}
    raws = _shortened(given["raw"])
    messages = _messages(kinds, {**columns, **given, "raw": raws})
    places = (_texts(given[name]) for name in PLACE)
    return _problems(_per_row(kinds, _LEVEL), _per_row(kinds, _VALUE), messages, *places, raws)


_LEVEL, _VALUE = operator.attrgetter("level"), operator.attrgetter("_value_")  # _value_: see make


def _per_row(kinds: list[Code], attribute: operator.attrgetter[str]) -> list[str]:
    """Each row's kind's `attribute`, looked up once when every row is of one kind (as in most calls)."""
    if kinds and kinds.count(kinds[0]) == len(kinds):
        return [attribute(kinds[0])] * len(kinds)
    return list(map(attribute, kinds))


def _messages(kinds: list[Code], sources: Mapping[str, Sequence[object]]) -> list[str]:
    """Each row's message: its kind's template with the fields of that row it names, from `sources` (None and any field
    not given, the cell among them, read as empty, as make reads them)."""
    present = set(kinds)
    names = sorted(set().union(*(_field_names(kind.template) for kind in present)))
    empty = [""] * len(kinds)
    fields = [sources[name] if name in sources and name != "cell" else empty for name in names]
    joined = _joined(next(iter(present)).template, dict(zip(names, fields)), len(kinds)) if len(present) == 1 else None
    if joined is not None:  # texts all, as most are (not a None among them)
        return joined
    number = {name: str(n) for n, name in enumerate(names)}
    numbered = {kind: _numbered(kind.template, number) for kind in present}
    return list(map(str.format, map(numbered.__getitem__, kinds), *map(_none_empty, fields)))


def _joined(template: str, fields: Mapping[str, Sequence[object]], count: int) -> list[str] | None:
    """`count` messages of `template` joined from its literal parts and the fields' texts, row by row (quicker than
    formatting each); None when they cannot be: a field with a conversion, a format spec, an attribute or an index, or
    a column with a value that is not exactly a str (a count, None, or a str subclass, which str.format would show
    through its own __format__, as an Enum member's name)."""
    parts: list[Iterable[object]] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        parts.append(itertools.repeat(literal))
        if name is not None:
            if spec or conversion or name != _root(name) or not _all_texts(fields[name]):
                return None
            parts.append(fields[name])
    return list(map("".join, itertools.islice(zip(*parts), count)))


def _numbered(template: str, number: dict[str, str]) -> str:
    """`template` with each field named by its number in `number` ({old} → {3}, {old!r:>5} → {3!r:>5}), for str.format
    with the fields given by position."""
    parts = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        parts.append(literal.replace("{", "{{").replace("}", "}}"))
        if name is not None:
            root = _root(name)
            parts.append("{" + number[root] + name[len(root):] + (f"!{conversion}" if conversion else "")
                         + (f":{_numbered(spec, number)}" if spec else "") + "}")
    return "".join(parts)


def _texts(column: Sequence[object]) -> list[str]:
    """str() of each value (the column itself when every value is a str already)."""
    return column if _all_texts(column) else list(map(str, column))


def _shortened(column: Sequence[object]) -> list[str]:
    """shorten() of each value (the column itself when every value is a str short enough already)."""
    return column if _all_texts(column) and max(map(len, column), default=0) <= SHORT else list(map(shorten, column))


def _all_texts(column: Sequence[object]) -> TypeGuard[list[str]]:
    return isinstance(column, list) and set(map(type, column)) <= {str}


def _none_empty(column: Sequence[object]) -> Sequence[object]:
    """The column with None read as empty, as a message reads it."""
    return ["" if value is None else value for value in column] if None in column else column


def _problems(*columns: list[str]) -> list[Problem]:
    """Problem(*row) for each row of `columns` (one per field, in order). Equal objects, each given its fields as one
    dict made at once: a frozen dataclass's __init__ sets each through object.__setattr__, most of the cost of making
    one (and a dict of texts made so is not one the cycle collector looks at)."""
    make_one, put = object.__new__, object.__setattr__
    out = []
    for level, kind, message, file, sheet, cell, district, code, raw in zip(*columns):
        problem = make_one(Problem)
        put(problem, "__dict__", {"level": level, "kind": kind, "message": message, "file": file, "sheet": sheet,
                                  "cell": cell, "district": district, "code": code, "raw": raw})
        out.append(problem)
    return out


@functools.lru_cache(maxsize=None)  # one entry per template of the catalogue at most
def _field_names(template: str) -> frozenset[str]:
    """The fields a template names ({old}, {count:d}, {x.y} …: old, count, x), in its format specs too."""
    names = set()
    for _, name, spec, _ in string.Formatter().parse(template):
        if name is not None:
            names.add(_root(name))
        if spec:
            names |= _field_names(spec)
    return frozenset(names)


def _root(name: str) -> str:
    """A field's name without its attribute or index ({x.y}, {x[0]}: x)."""
    return name.split(".")[0].split("[")[0]


class AssessError(Exception):
    """The one exception the library raises for something the person running it must fix: it carries
    the problems (catalogue messages, with file, sheet, cell, district and code where they apply).
    The command line and the console catch this base once and show `message`."""

    # A catalogue message that introduces the problems (its `{problems}` field), e.g. 评分细则无法使用：
    heading: ClassVar[Code | None] = None

    def __init__(self, *problems: Problem):
        super().__init__("\n".join(problem.message for problem in problems))
        self.problems: tuple[Problem, ...] = problems
        self.partly_done = False  # something was already done before it (some mail went out)

    @property
    def message(self) -> str:
        """What a person reads: the problems, one a line, under the heading when there is one."""
        joined = "\n".join(self.messages)
        return text(self.heading, problems=joined) if self.heading else joined

    @property
    def line(self) -> str:
        """The same in one line, for a place that shows one line (a console notice): problems joined by ；."""
        joined = "；".join(message.rstrip("。") for message in self.messages) + "。"
        return text(self.heading, problems=joined).replace("\n", "") if self.heading else joined

    @property
    def problem(self) -> Problem:
        """The first (often the only) problem."""
        return self.problems[0]

    @property
    def messages(self) -> list[str]:
        return [problem.message for problem in self.problems]

    @classmethod
    def of(cls, kind: Code, /, **fields: object) -> "AssessError":
        """The error of one catalogue problem: `raise SomeError.of(Code.X, file=…)`."""
        return cls(make(kind, **fields))  # type: ignore[arg-type]


SHORT = 200  # characters of an entry quoted in full (shorten)


def shorten(raw: object, limit: int = SHORT) -> str:
    text = "" if raw is None else str(raw)
    return text if len(text) <= limit else text[:limit] + f"…（共{len(text)}字）"


OS_REASONS = {errno.ENOENT: "文件或文件夹不存在", errno.EACCES: "没有权限", errno.EPERM: "没有权限",
              errno.ENOSPC: "磁盘空间不足", errno.ENAMETOOLONG: "文件名过长", errno.EROFS: "磁盘或文件夹是只读的",
              errno.EISDIR: "这是一个文件夹", errno.ENOTDIR: "路径中有同名的文件而不是文件夹",
              errno.EIO: "读写出错（磁盘或网络盘故障）", errno.EBUSY: "文件被占用", errno.ELOOP: "符号链接循环",
              errno.EMFILE: "同时打开的文件过多", errno.EEXIST: "已有同名的文件", errno.EXDEV: "不能跨磁盘移动"}


def reason(exc: BaseException) -> str:
    """What went wrong, in Chinese, for a message: never an exception's English text or class name."""
    if isinstance(exc, OSError):
        return OS_REASONS.get(exc.errno or 0, f"系统错误（错误号{exc.errno}）" if exc.errno else "系统错误")
    if isinstance(exc, UnicodeError):
        return "文字编码无法识别"
    return "内容不是有效的格式"


def sort_key(problem: Problem) -> tuple[int, str, str, str, str]:
    return (LEVEL_ORDER.get(problem.level, 9), problem.file, problem.sheet, problem.district, problem.code)


def in_order(before: list[Problem], ordered: list[Problem], after: list[Problem]) -> list[Problem]:
    """sorted([*before, *ordered, *after], key=sort_key), `ordered` being in that order already (as merge makes its
    conflicts): only the others are sorted (each one's key made once), each put into `ordered` where a bisection finds
    its place, so that the keys of `ordered` are made only where it looks rather than for every problem."""
    others = [*before, *after]
    keys = list(map(sort_key, others))
    last = sort_key(ordered[-1]) if ordered else None
    out: list[Problem] = []
    start = 0
    for n in sorted(range(len(others)), key=keys.__getitem__):
        end = len(ordered) if last is None or keys[n] > last else _place(ordered, keys[n], start, n < len(before))
        out += ordered[start:end]  # at the end at once when it comes after the last (a lower level, as often)
        out.append(others[n])
        start = end
    return out + ordered[start:]


def _place(ordered: list[Problem], key: tuple[int, str, str, str, str], start: int, first: bool) -> int:
    """Where a problem of `key` stands in `ordered` from `start` on: before those of an equal key if `first` (it came
    before them), else after them."""
    return (bisect.bisect_left if first else bisect.bisect_right)(ordered, key, start, key=sort_key)
