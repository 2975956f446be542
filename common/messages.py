"""Every sentence the bot says, in one catalogue (Vietnamese; another language is another dict).

Keys are stable names; values are str.format templates. `t(key, **values)` renders one.
"""

from __future__ import annotations

VI: dict[str, str] = {
    # ---- access and onboarding
    "access.unregistered": (
        "Xin chào! Đây là công cụ đề cử \"Người tốt, việc tốt\" của xã/phường.\n"
        "Bạn chưa được đăng ký sử dụng. Hãy xin đường link mời hoặc mã mời từ thường trực "
        "Hội đồng Thi đua – Khen thưởng xã (công chức Văn phòng – Thống kê hoặc Nội vụ), "
        "rồi mở link, hoặc gửi mã mời cho bot.\n"
        "Đã dùng bot ở kênh khác (Zalo hoặc Telegram)? Gõ /lienket ở kênh đó để lấy mã liên kết, rồi gửi mã đó ở đây."
    ),
    "invite.unknown": "Mã mời không đúng. Hãy kiểm tra lại, hoặc xin thường trực Hội đồng Thi đua xã mã mới.",
    "invite.used": "Mã mời này đã được dùng. Mỗi mã chỉ dùng một lần; hãy xin mã mới nếu bạn cần.",
    "invite.expired": "Mã mời này đã hết hạn. Hãy xin thường trực Hội đồng Thi đua xã một mã mới.",
    "invite.already": "Bạn đã được đăng ký với vai trò này rồi.",
    "welcome.cadre": (
        "Chào mừng {name}! Bạn đã được đăng ký là cán bộ của {unit}, {commune}.\n"
        "Bạn có thể:\n"
        "• /decu – đề cử một gương người tốt, việc tốt (có ảnh), mất vài phút\n"
        "• /hoso – xem các hồ sơ bạn đã gửi\n"
        "• /trangthai <mã> – xem trạng thái một hồ sơ\n"
        "• /trogiup – hướng dẫn"
    ),
    "welcome.secretary": (
        "Chào mừng {name}! Bạn đã được đăng ký là thường trực Hội đồng Thi đua – Khen thưởng {commune}.\n"
        "Bạn sẽ nhận thông báo khi có hồ sơ đề cử mới và nhắc hạn gửi danh sách hằng quý.\n"
        "Bạn có thể:\n"
        "• /choduyet – xem và duyệt các hồ sơ đang chờ (duyệt, trả lại để sửa, từ chối)\n"
        "• /khenthuong <mã>; <hình thức>; <số quyết định>; <ngày> – ghi nhận khen thưởng cho hồ sơ đã duyệt\n"
        "• /danhsach, /thongke – danh sách, số liệu và biểu đồ của xã\n"
        "• /xuat – xuất hồ sơ gửi tỉnh: bảng tính, ảnh gốc, tờ trình, danh sách, tóm tắt, giấy khen (Word, PDF)\n"
        "• /han, /themhan – xem và thêm hạn gửi\n"
        "• /donvi, /moi, /nguoi, /thuhoi – thôn, đoàn thể, mời và quản lý người dùng\n"
        "• /trangthai <mã> – xem một hồ sơ\n"
        "• /trogiup – hướng dẫn"
    ),
    "welcome.official": (
        "Chào mừng {name}! Bạn đã được đăng ký để theo dõi phong trào người tốt, việc tốt ({scope}).\n"
        "Bạn có thể:\n"
        "• /thongke [quý|năm] – số liệu và biểu đồ theo trạng thái, thôn, lĩnh vực và chỉ tiêu\n"
        "• /danhsach – danh sách hồ sơ; /xuat – xuất hồ sơ (Excel, Word, PDF, ảnh)\n"
        "• /han – các hạn gửi sắp tới\n"
        "• /nhacnho – nhận nhắc hồ sơ quá hạn và bản tin hằng tuần\n"
        "• /trangthai <mã> – xem một hồ sơ\n"
        "• /trogiup – hướng dẫn"
    ),
    "welcome.admin": "Chào mừng {name}! Bạn đã được đăng ký là quản trị hệ thống.",
    "person.unnamed": "bạn",
    "terminal.photos": "[{count} ảnh]",
    "terminal.demo_name": "Cán bộ demo",
    "invite.bot_placeholder": "<tên_bot>",
    "commune.label": "{name}, {province} (mã {code})",
    "preview.line": "{due}  {kind:<8} → người {person} ({channel} {chat}): {text}",
    "terminal.notice": "🔔 Bot nhắn:",
    "terminal.intro": "Gõ tin nhắn như trên điện thoại. Gửi ảnh: gõ đường dẫn tệp ảnh. Thoát: Ctrl+D hoặc /thoat",  # who someone is until they tell us, when the channel gives no name
    "welcome.back": "Chào {name}! {hint}",
    "hint.cadre": "Gõ /decu để đề cử, /hoso để xem hồ sơ đã gửi, /trogiup để xem hướng dẫn.",
    "hint.secretary": "Gõ /choduyet để xem hồ sơ chờ duyệt, /thongke để xem thống kê, /trogiup để xem hướng dẫn.",
    "hint.official": "Gõ /thongke để xem thống kê, /xuat để xuất hồ sơ, /trogiup để xem hướng dẫn.",
    "hint.other": "Gõ /trogiup để xem hướng dẫn.",
    "role.not_cadre": "Chức năng này dành cho cán bộ thôn, tổ dân phố hoặc đoàn thể.",
    "help.general": (
        "Hướng dẫn:\n"
        "• /decu – đề cử một gương người tốt, việc tốt. Bot hỏi từng bước; mỗi câu trả lời được lưu ngay, "
        "mất sóng cũng không mất.\n"
        "• /hoso – các hồ sơ bạn đã gửi và trạng thái\n"
        "• /trangthai <mã> – xem một hồ sơ, ví dụ /trangthai NT-2026-00042\n"
        "Khi đang làm hồ sơ: /quaylai – quay lại bước trước; /huy – hủy hồ sơ; /trogiup – giải thích bước đang làm.\n"
        "Với câu hỏi có lựa chọn, bạn bấm nút (Telegram) hoặc gõ số thứ tự, hoặc gõ chữ (có dấu hay không dấu đều được)."
    ),
    "menu.nominate": "📝 Đề cử",
    "menu.my_cases": "📂 Hồ sơ của tôi",
    "menu.help": "❓ Trợ giúp",
    # ---- generic conversation
    "error.unexpected": "Xin lỗi, bot gặp lỗi khi xử lý tin nhắn này. Những gì bạn đã nhập vẫn được giữ; hãy thử lại.",
    "error.busy": "Bot đang bận, bạn vui lòng gửi lại sau ít giây. Những gì đã nhập vẫn được giữ.",
    "input.edited": (
        "Bot không dùng tin nhắn đã sửa. Muốn đổi câu trả lời vừa gửi, gõ /quaylai rồi trả lời lại; muốn đổi câu "
        "khác, đến bước tóm tắt cuối cùng rồi chọn \"Sửa\"."
    ),
    "input.unsupported": "Bot chưa đọc được {what}. Bạn hãy trả lời bằng chữ, hoặc chọn một lựa chọn.",
    "input.unsupported.sticker": "nhãn dán",
    "input.unsupported.voice": "tin nhắn thoại",
    "input.unsupported.video": "video",
    "input.unsupported.location": "vị trí",
    "input.unsupported.contact": "danh bạ",
    "input.unsupported.other": "loại tin nhắn này",
    "input.need_text": "Bước này cần trả lời bằng chữ, chưa cần ảnh.",
    "input.question_over": "Câu hỏi của lựa chọn này đã xong. Gõ /trogiup nếu bạn cần hướng dẫn.",
    "input.stale_button": "Lựa chọn này thuộc một câu hỏi trước. Câu hỏi hiện tại là:",
    "unknown.command": "Bot không hiểu lệnh /{command}. Gõ /trogiup để xem các lệnh.",
    "unknown.text": "Bot chưa hiểu ý bạn. {hint}",
    "choice.unknown": "Bot chưa nhận ra lựa chọn này. Hãy chọn, hoặc gõ số thứ tự (1–{count}).",
    "choice.ambiguous": "Câu trả lời khớp với nhiều lựa chọn: {matches}. Hãy gõ rõ hơn hoặc gõ số thứ tự.",
    "choice.skip": "Bỏ qua",
    "choice.keep": "Giữ nguyên",
    "current.value": "(Hiện tại: {value})",
    "back.none": "Đây là bước đầu tiên, không quay lại được nữa.",
    "cancel.confirm": "Bạn có chắc muốn hủy hồ sơ đang làm? Mọi câu trả lời và ảnh của hồ sơ này sẽ bị xóa.",
    "cancel.yes": "Có, hủy hồ sơ",
    "cancel.no": "Không, làm tiếp",
    "cancel.done": "Đã hủy hồ sơ. Khi cần, gõ /decu để bắt đầu lại.",
    "cancel.confirm_fix": (
        "Thôi sửa hồ sơ này? Những thay đổi vừa làm sẽ không được lưu. Hồ sơ đã gửi vẫn còn, ở trạng thái cần bổ sung."
    ),
    "cancel.yes_fix": "Có, thôi sửa",
    "cancel.done_fix": "Đã thôi sửa. Hồ sơ vẫn ở trạng thái cần bổ sung; khi sẵn sàng, gõ /sua để sửa và gửi lại.",
    "cancel.nothing": "Bạn không có hồ sơ nào đang làm dở.",
    "cancel.kept": "Vẫn giữ hồ sơ. Làm tiếp nhé:",
    "draft.exists": "Bạn đang có một hồ sơ làm dở ({name}, đã trả lời {answered} câu). Bạn muốn:",
    "draft.continue": "Làm tiếp hồ sơ dở",
    "draft.restart": "Bỏ hồ sơ dở, làm mới",
    "draft.pending_hint": "Bạn còn một hồ sơ đang làm dở; gõ /decu để làm tiếp.",
    # ---- nomination: steps
    "nom.start": "Bắt đầu đề cử gương người tốt, việc tốt. Bot sẽ hỏi từng câu; gõ /huy để hủy, /quaylai để quay lại.",
    "nom.kind.prompt": "Bạn đề cử ai?",
    "nom.kind.label": "Đối tượng",
    "nom.kind.help": "Chọn Cá nhân (một người), Tập thể (thôn, chi hội, tổ, nhóm, hợp tác xã…) hoặc Hộ gia đình.",
    "nom.name.prompt.ca_nhan": "Họ và tên người được đề cử?",
    "nom.name.prompt.tap_the": "Tên tập thể được đề cử? (ví dụ: Chi hội Phụ nữ thôn Đông)",
    "nom.name.prompt.ho_gia_dinh": "Họ và tên chủ hộ?",
    "nom.name.label": "Tên",
    "nom.name.help": "Gõ tên đầy đủ, có dấu nếu được (từ 2 đến 200 ký tự).",
    "nom.birth_year.prompt": "Năm sinh? (4 chữ số, ví dụ 1968; hoặc chọn \"Không rõ\")",
    "nom.birth_year.label": "Năm sinh",
    "nom.birth_year.help": "Gõ năm sinh gồm 4 chữ số, từ 1900 đến năm nay. Nếu không biết, gõ \"không rõ\".",
    "nom.unknown": "Không rõ",
    "nom.ethnicity.prompt": "Dân tộc? Chọn, hoặc gõ tên dân tộc khác (ví dụ: Ê Đê, Gia Rai, Sán Dìu).",
    "nom.ethnicity.label": "Dân tộc",
    "nom.ethnicity.help": "Chọn một trong các dân tộc phổ biến, hoặc gõ tên bất kỳ dân tộc nào trong 54 dân tộc Việt Nam.",
    "nom.position.prompt": "Chức vụ, nghề nghiệp? (ví dụ: Trưởng thôn, nông dân, giáo viên; hoặc chọn \"Không có\")",
    "nom.position.label": "Chức vụ",
    "nom.position.help": "Gõ chức vụ hoặc nghề nghiệp của người được đề cử, hoặc \"không có\".",
    "nom.no_position": "Không có",
    "nom.rep_name.prompt": "Họ tên người đại diện? (có thể bỏ qua)",
    "nom.rep_name.label": "Người đại diện",
    "nom.rep_name.help": "Người đứng đầu hoặc đại diện của tập thể / hộ gia đình. Có thể chọn \"Bỏ qua\".",
    "nom.rep_role.prompt": "Chức vụ của người đại diện? (có thể bỏ qua)",
    "nom.rep_role.label": "Chức vụ người đại diện",
    "nom.rep_role.help": "Ví dụ: Chi hội trưởng, Chủ nhiệm hợp tác xã, chủ hộ. Có thể chọn \"Bỏ qua\".",
    "nom.address.prompt": "Địa chỉ? Chọn nếu ở {home}, hoặc gõ địa chỉ khác.",
    "nom.address.prompt_nohome": "Địa chỉ? (thôn/tổ dân phố, xã/phường)",
    "nom.address.label": "Địa chỉ",
    "nom.address.help": "Gõ địa chỉ nơi người/tập thể được đề cử sinh sống hoặc hoạt động (3 đến 300 ký tự).",
    "nom.field.prompt": "Thuộc lĩnh vực nào?",
    "nom.field.label": "Lĩnh vực",
    "nom.field.help": "Chọn lĩnh vực gần nhất với việc tốt. Gõ số thứ tự cũng được.",
    "nom.movement.prompt": "Thuộc phong trào thi đua nào? (nếu không rõ, chọn \"Không rõ\")",
    "nom.movement.label": "Phong trào",
    "nom.movement.help": "Chọn phong trào của xã mà việc tốt này hưởng ứng. Không rõ thì chọn \"Không rõ\".",
    "nom.description.prompt": (
        "Kể ngắn gọn việc tốt hoặc thành tích: việc gì, ở đâu, giúp được ai, kết quả thế nào? "
        "(từ 20 đến 3.000 ký tự)"
    ),
    "nom.description.label": "Tóm tắt việc tốt",
    "nom.description.help": "Viết trung thực, khách quan, không phóng đại. Ít nhất 20 ký tự, nhiều nhất 3.000 ký tự.",
    "nom.when.prompt": "Việc tốt diễn ra khi nào? Chọn, hoặc gõ ngày, tháng (ví dụ: 15/10/2026, 10/2026, tuần trước)",
    "nom.when.today": "Hôm nay",
    "nom.when.this_week": "Tuần này",
    "nom.when.this_month": "Tháng này",
    "nom.when.last_month": "Tháng trước",
    "nom.when.label": "Thời gian",
    "nom.when.help": "Gõ ngày (15/10/2026), tháng (10/2026), năm (2025), hoặc: hôm nay, hôm qua, tuần trước, tháng trước.",
    "nom.photos.prompt": (
        "Gửi 1 đến 10 ảnh minh chứng (có thể chọn nhiều ảnh gửi một lần). Nhận ảnh xong, bot hỏi ngay câu tiếp theo."
    ),
    "nom.photos.prompt_files": (  # where the channel shrinks photos (Telegram)
        "Gửi 1 đến 10 ảnh minh chứng (gửi ảnh, nhiều ảnh một lần, hoặc gửi dạng tệp để giữ nguyên chất lượng). "
        "Nhận ảnh xong, bot hỏi ngay câu tiếp theo."
    ),
    "nom.photos.label": "Ảnh",
    "nom.photos.help": (
        "Gửi ảnh chụp việc tốt, giấy khen, bài báo… Tối đa 10 ảnh, mỗi ảnh dưới 20 MB. Gửi xong thì trả lời câu "
        "tiếp theo (hoặc gõ \"xong\")."
    ),
    "photos.done": "Xong",
    "photos.unnamed": "ảnh",  # a photo has no file name: errors call it this
    "period.day": "{date}",
    "period.week": "tuần từ {date}",
    "period.month": "tháng {month}/{year}",
    "period.year": "năm {year}",
    "photos.clear": "Xóa hết ảnh, gửi lại",
    "photos.clear_confirm": "Xóa hết {total} ảnh đã gửi của hồ sơ này?",
    "photos.clear_yes": "Có, xóa hết ảnh",
    "photos.clear_no": "Không, giữ ảnh",
    "photos.kept": "Vẫn giữ các ảnh đã gửi.",
    "photos.have": "Hồ sơ đã có {total} ảnh.",
    "photos.none_to_clear": "Hồ sơ chưa có ảnh nào để xóa. Hãy gửi ảnh minh chứng.",
    "photos.cleared": "Đã xóa các ảnh của hồ sơ. Hãy gửi lại ảnh.",
    "photos.received": "Đã nhận {added} ảnh (tổng {total}/10).",
    "photos.then_next": "Gửi thêm ảnh nếu cần, hoặc trả lời câu tiếp theo:",
    "photos.then_done": "Gửi thêm ảnh, hoặc chọn \"Xong\".",
    "photos.then_current": "Giờ hãy trả lời câu hỏi:",
    "photos.duplicate": "Ảnh này đã có trong hồ sơ rồi (tổng {total}/10).",
    "photos.full": "Hồ sơ đã đủ 10 ảnh; {dropped} ảnh sau không được nhận.",
    "photos.need_one": "Cần ít nhất 1 ảnh minh chứng. Hãy gửi ảnh trước khi chọn \"Xong\".",
    "photos.need_photo": "Bước này cần ảnh. Hãy gửi ảnh.",
    "photos.need_photo_files": "Bước này cần ảnh. Hãy gửi ảnh (hoặc tệp ảnh).",
    "photos.not_image": "Tệp \"{name}\" không phải là ảnh (bot nhận ảnh JPEG, PNG, WEBP). Hãy gửi ảnh khác.",
    "photos.too_big": "Tệp \"{name}\" lớn hơn 20 MB. Hãy gửi ảnh nhỏ hơn, hoặc gửi dạng ảnh thay vì tệp.",
    "photos.not_image_unnamed": "Tệp bạn vừa gửi không phải là ảnh (bot nhận ảnh JPEG, PNG, WEBP). Hãy gửi ảnh khác.",
    "photos.too_big_unnamed": "Ảnh bạn vừa gửi lớn hơn 20 MB. Hãy gửi ảnh nhỏ hơn.",
    "photos.fetch_failed_unnamed": "Bot chưa tải được ảnh bạn vừa gửi do mạng chập chờn. Hồ sơ vẫn được giữ; hãy gửi lại.",
    "photos.fetch_failed": "Bot chưa tải được \"{name}\" do mạng chập chờn. Hồ sơ vẫn được giữ; hãy gửi lại ảnh đó.",
    "photos.more_failures": "Còn {count} tệp nữa không nhận được (lý do như trên).",
    "nom.phone.prompt": "Số điện thoại liên hệ? (ví dụ 0912 345 678; có thể bỏ qua)",
    "nom.phone.label": "Điện thoại",
    "nom.phone.help": "Số di động 10 chữ số bắt đầu bằng 0, hoặc dạng +84. Có thể chọn \"Bỏ qua\".",
    "nom.consent.prompt": "Người được đề cử có đồng ý cho tuyên truyền, đăng tải gương của mình không?",
    "nom.consent.label": "Đồng ý tuyên truyền",
    "nom.consent.help": "Chỉ được đăng tải công khai khi người được đề cử đồng ý. Nếu chưa hỏi được, chọn \"Chưa hỏi\".",
    "nom.consent.yes": "Có",
    "nom.consent.no": "Không",
    "nom.consent.not_asked": "Chưa hỏi",
    "summary.title": "Kiểm tra lại hồ sơ đề cử:",
    "summary.photos": "{count} ảnh",
    "summary.question": "Gửi hồ sơ này lên xã?",
    "summary.send": "✅ Gửi",
    "summary.edit": "✏️ Sửa",
    "summary.cancel": "❌ Hủy",
    "nom.summary.help": "Chọn Gửi để gửi hồ sơ lên xã, Sửa để đổi một câu trả lời, Hủy để bỏ hồ sơ.",
    "summary.edit_prompt": "Bạn muốn sửa câu nào?",
    "summary.edit_back": "↩️ Về bản tóm tắt",
    "nom.duplicate": (
        "Lưu ý: trong 12 tháng qua, xã đã có hồ sơ trùng tên: {cases}. "
        "Nếu đây là trường hợp khác, bạn vẫn có thể gửi."
    ),
    "nom.submitted": (
        "Đã gửi hồ sơ {code} (trạng thái: {status}).\n"
        "Thường trực Hội đồng Thi đua xã sẽ xem xét; bot sẽ báo bạn khi hồ sơ được duyệt, "
        "hoặc khi cần bổ sung. Gõ /trangthai {code} để xem lại bất cứ lúc nào."
    ),
    # ---- answer errors (codes from bot.parsing.Invalid)
    "invalid.year.format": "Năm sinh cần 4 chữ số, ví dụ 1968. Nếu không biết, gõ \"không rõ\".",
    "invalid.year.range": "Năm sinh phải từ {min} đến {max}.",
    "invalid.when.format": "Bot chưa hiểu thời gian này. Hãy gõ ví dụ: 15/10/2026, 10/2026, hôm nay, tuần trước.",
    "invalid.when.invalid_date": "Ngày này không có trong lịch. Hãy kiểm tra lại ngày và tháng.",
    "invalid.when.future": "Thời gian này còn ở tương lai. Hãy gõ ngày việc tốt đã diễn ra.",
    "invalid.when.too_old": "Thời gian quá xa (trước năm {min_year}). Hãy kiểm tra lại.",
    "invalid.phone.format": "Số điện thoại chưa đúng. Di động gồm 10 chữ số bắt đầu bằng 0 (ví dụ 0912 345 678) hoặc +84. Có thể chọn \"Bỏ qua\".",
    "invalid.ethnicity.unknown": "Bot không tìm thấy dân tộc \"{text}\" trong 54 dân tộc Việt Nam.{suggestions}",
    "invalid.ethnicity.suggestions": "Có phải: {names}?",
    "invalid.name.letters": "Tên cần có chữ cái, ví dụ: Nguyễn Văn An. Hãy gõ lại tên.",
    "invalid.address.required": "Cần địa chỉ (thôn, tổ dân phố…) để xã xác minh. Hãy chọn hoặc gõ địa chỉ.",
    "invalid.text.too_short": "Câu trả lời quá ngắn ({length} ký tự); cần ít nhất {min} ký tự.",
    "invalid.text.too_long": "Câu trả lời quá dài ({length} ký tự); tối đa {max} ký tự. Hãy rút gọn rồi gửi lại.",
    "invalid.choice.unknown": "Bot chưa nhận ra lựa chọn này. Hãy chọn, hoặc gõ số thứ tự (1–{count}).",
    "invalid.choice.ambiguous": "Câu trả lời khớp với nhiều lựa chọn: {matches}. Hãy gõ rõ hơn hoặc gõ số thứ tự.",
    # ---- cases
    "status.submitted": "đã gửi",
    "status.returned": "cần bổ sung",
    "status.resubmitted": "đã gửi lại",
    "status.approved": "xã đã duyệt",
    "status.rejected": "không được chọn",
    "status.commended": "đã được khen thưởng",
    "status.withdrawn": "đã rút",
    "kind.ca_nhan": "cá nhân",
    "kind.tap_the": "tập thể",
    "kind.ho_gia_dinh": "hộ gia đình",
    "cases.none": "Bạn chưa gửi hồ sơ nào. Gõ /decu để đề cử gương người tốt, việc tốt đầu tiên.",
    "cases.title": "Hồ sơ bạn đã gửi ({count}):",
    "cases.line": "• {code} – {name} – {status} ({date})",
    "cases.more": "… và {more} hồ sơ cũ hơn.",
    "case.usage": "Gõ mã hồ sơ sau lệnh, ví dụ: /trangthai NT-2026-00042",
    "case.commendation": "🏅 Khen thưởng: {form}, quyết định {decision} ngày {date}",
    "case.open_review": "Mở hồ sơ để duyệt",
    "case.not_found": "Không tìm thấy hồ sơ {code} trong phạm vi bạn được xem.",
    "case.detail": (
        "Hồ sơ {code}\n"
        "• Tên: {name} ({kind})\n"
        "• Trạng thái: {status}\n"
        "• Gửi lúc: {submitted}\n"
        "• Cập nhật: {updated}\n"
        "• Thôn/đơn vị: {unit}\n"
        "• Lĩnh vực: {field}\n"
        "• Ảnh: {photos}"
    ),
    # ---- reminders and deadlines (scheduler/)
    "remind.days_left": "⏰ Còn {days} ngày đến {title} ({date}).",
    "remind.today": "⏰ Hôm nay là hạn cuối: {title} ({date}, đến 23:59).",
    "remind.period": "Kỳ này: {submitted} hồ sơ đã gửi, {pending} chờ duyệt, {returned} đang chờ bổ sung.",
    "remind.silent": "Chưa gửi hồ sơ nào: {units}.",
    "remind.none_silent": "không còn thôn/đơn vị nào",
    "remind.quota": "Chỉ tiêu năm {year}: {forwarded}/{quota} gương đã được xã duyệt chuyển lên.",
    "remind.open_pending": "📋 Hồ sơ chờ duyệt",
    "remind.nudge": (
        "⏰ Còn {days} ngày đến {title} ({date}). {unit} chưa có hồ sơ đề cử nào trong kỳ này. "
        "Nếu có gương người tốt, việc tốt, chọn bên dưới để đề cử ngay (vài phút)."
    ),
    "remind.draft": (
        "📝 Bạn còn một hồ sơ đề cử làm dở ({name}). Còn {days} ngày đến {title} ({date}). "
        "Chọn bên dưới để làm tiếp đúng chỗ đang dừng."
    ),
    "remind.overdue": (
        "⚠️ Đã quá {title} ({date}) mà {commune} chưa có hồ sơ nào được duyệt chuyển lên trong kỳ. "
        "Hãy xem các hồ sơ chờ duyệt hoặc đôn đốc các thôn, đơn vị."
    ),
    "remind.digest_title": "📊 Tóm tắt tuần {week}:",
    "remind.digest_line": "• {commune}: kỳ này {submitted} hồ sơ ({pending} chờ duyệt); năm nay {forwarded}/{quota} gương",
    "remind.unreachable": (
        "Bot không gửi được tin cho {name}: người này đã chặn bot hoặc xóa cuộc trò chuyện. "
        "Hãy nhắc họ mở lại bot để nhận thông báo."
    ),
    # ---- /han, /themhan
    "han.no_scope": "Bạn chưa thuộc xã/phường nào nên không có hạn nào để xem.",
    "han.commune": "📅 {commune}:",
    "han.line": "• {title}: {date} (còn {days} ngày)",
    "han.unit_done": "✅ {unit} đã có hồ sơ đề cử trong kỳ này.",
    "han.unit_missing": "❗ {unit} chưa có hồ sơ đề cử nào trong kỳ này. Gõ /decu để đề cử.",
    "han.add_not_allowed": "Chỉ thường trực Hội đồng Thi đua hoặc lãnh đạo xã, tỉnh mới thêm được hạn.",
    "han.add_usage": "Gõ ngày và tên hạn, ví dụ: /themhan 15/04/2027 Gửi kế hoạch thi đua năm",
    "han.add_bad_date": "Ngày hạn chưa đúng hoặc đã qua. Ví dụ: /themhan 15/04/2027 Gửi kế hoạch thi đua năm",
    "han.added": "Đã thêm hạn \"{title}\" vào ngày {date}. Mọi người liên quan sẽ được nhắc trước hạn.",
    # ---- /nhacnho
    "nhacnho.nothing": "Bạn không có loại nhắc nhở nào để cài đặt.",
    "nhacnho.title": "Cài đặt nhắc nhở của bạn:",
    "nhacnho.line": "• {kind}: {state}, lúc {hour} giờ",
    "nhacnho.on": "đang bật",
    "nhacnho.off": "đang tắt",
    "nhacnho.snoozed": "tạm dừng đến {until}",
    "nhacnho.kind.deadline": "Nhắc hạn gửi danh sách (không tắt được, chỉ đổi giờ)",
    "nhacnho.kind.nudge": "Nhắc đề cử khi thôn chưa có hồ sơ",
    "nhacnho.kind.draft": "Nhắc hồ sơ làm dở",
    "nhacnho.kind.overdue": "Báo khi xã quá hạn",
    "nhacnho.kind.digest": "Tóm tắt hằng tuần",
    "nhacnho.turn_off": "Tắt: {kind}",
    "nhacnho.turn_on": "Bật: {kind}",
    "nhacnho.snooze": "Tạm dừng 7 ngày: {kind}",
    "nhacnho.resume": "Bật lại ngay: {kind}",
    "nhacnho.hour": "Nhận lúc {hour} giờ",
    "nhacnho.bad_hour": "Bot chỉ nhắc vào giờ làm việc: chọn một trong các giờ {hours} (ví dụ: /nhacnho gio 9).",
    "nhacnho.hint": "Chọn bên dưới, hoặc gõ: /nhacnho tat, /nhacnho bat, /nhacnho tam dung, /nhacnho gio 9",
    "nhacnho.usage": "Bot chưa hiểu. Gõ: /nhacnho tat, /nhacnho bat, /nhacnho tam dung, hoặc /nhacnho gio 9",
    "nhacnho.channel": "• Nhận nhắc nhở và thông báo qua: {channel}",
    "nhacnho.channel_last": "kênh bạn dùng gần nhất",
    "nhacnho.via": "Luôn nhận qua {channel}",
    "nhacnho.via_last": "Nhận qua kênh dùng gần nhất",
    "nhacnho.saved": "Đã lưu.",
    "nhacnho.hour_set": "Từ nay bạn nhận nhắc nhở lúc {hour} giờ.",
    "nhacnho.not_allowed": "Loại nhắc nhở này không tắt được với vai trò của bạn.",
    # ---- roles and menus
    "role.not_allowed": "Chức năng này không dành cho vai trò của bạn. Gõ /trogiup để xem bạn dùng được gì.",
    "role.cadre": "cán bộ",
    "role.secretary": "thường trực HĐ Thi đua",
    "role.official": "lãnh đạo",
    "role.admin": "quản trị",
    "menu.pending": "📋 Chờ duyệt",
    "menu.stats": "📊 Thống kê",
    # ---- /trogiup: a line for each command the person may use (bot/handlers/registry.py)
    "help.title": "Hướng dẫn – các lệnh bạn dùng được:",
    "help.line": "• /{command} {text}",
    "help.line.decu": "– đề cử một gương người tốt, việc tốt. Bot hỏi từng bước; mỗi câu trả lời được lưu ngay, "
                      "mất sóng cũng không mất",
    "help.line.hoso": "– các hồ sơ bạn đã gửi và trạng thái",
    "help.line.choduyet": "– hồ sơ chờ duyệt; mở từng hồ sơ để Duyệt, Trả lại (kèm lý do, đánh dấu mục cần sửa) "
                          "hoặc Từ chối (kèm lý do)",
    "help.line.thongke": "[tỉnh | xã] [quý | năm] – số liệu và biểu đồ theo trạng thái, thôn, lĩnh vực và chỉ tiêu",
    "help.line.trangthai": "<mã> – xem một hồ sơ, ví dụ /trangthai NT-2026-00042",
    "help.line.danhsach": "[thôn | quý 4 | chờ duyệt] – danh sách hồ sơ",
    "help.line.han": "– các hạn sắp tới và những gì còn thiếu",
    "help.line.themhan": "<ngày> <tên> – thêm một hạn, ví dụ /themhan 15/04/2027 Kế hoạch thi đua năm",
    "help.line.sua": "<mã> – sửa một hồ sơ bị trả lại",
    "help.line.rut": "<mã> – rút một hồ sơ chưa được duyệt",
    "help.line.xuat": "[quý 3/2026 | năm | từ ngày-đến ngày] [tất cả] – xuất hồ sơ: bảng tính, ảnh gốc, tờ trình, "
                      "danh sách đề nghị, tóm tắt thành tích, giấy khen (Word, PDF)",
    "help.line.khenthuong": "<mã>; <hình thức>; <số quyết định>; <ngày> – ghi nhận khen thưởng",
    "help.line.donvi": "– thôn, tổ dân phố, đoàn thể của xã",
    "help.line.moi": "canbo <thôn> | lanhdao | thuky – mời người dùng",
    "help.line.nguoi": "– danh sách người dùng của xã",
    "help.line.thuhoi": "<số> – thu hồi quyền một người",
    "help.line.nhacnho": "– bật, tắt, tạm dừng nhắc nhở, chọn giờ nhận",
    "help.line.quaylai": "– khi đang làm hồ sơ: quay lại bước trước",
    "help.line.huy": "– khi đang làm hồ sơ: hủy hồ sơ",
    "help.line.trogiup": "– hướng dẫn này; khi đang làm hồ sơ: giải thích bước đang làm",
    "help.typing": "Với câu hỏi có lựa chọn, bạn bấm nút (Telegram) hoặc gõ số thứ tự, hoặc gõ chữ (có dấu hay không dấu đều "
                   "được).",
    "command.start": "Bắt đầu, nhập mã mời",
    "deadline.quarterly": "Hạn gửi danh sách {period}",
    "deadline.quarter": "quý {quarter}/{year}",
    "command.decu": "Đề cử người tốt, việc tốt",
    "command.hoso": "Hồ sơ tôi đã gửi",
    "command.trangthai": "Xem một hồ sơ theo mã",
    "command.danhsach": "Danh sách hồ sơ",
    "command.thongke": "Số liệu thống kê",
    "command.han": "Các hạn sắp tới",
    "command.themhan": "Thêm một hạn",
    "command.sua": "Sửa hồ sơ bị trả lại",
    "command.rut": "Rút một hồ sơ",
    "command.nhacnho": "Cài đặt nhắc nhở",
    "command.quaylai": "Quay lại bước trước",
    "command.huy": "Hủy hồ sơ đang làm",
    "command.trogiup": "Hướng dẫn",
    "command.choduyet": "Hồ sơ chờ duyệt",
    "command.donvi": "Thôn, tổ dân phố, đoàn thể",
    "command.moi": "Mời người dùng",
    "command.nguoi": "Người dùng của xã",
    "command.thuhoi": "Thu hồi quyền một người",
    "command.khenthuong": "Ghi nhận khen thưởng",
    "command.xuat": "Xuất hồ sơ (Excel, Word, PDF, ảnh)",
    "page.previous": "◀️ Trang trước",
    "page.next": "Trang sau ▶️",
    "summary.resend": "✅ Gửi lại",
    # ---- review
    "review.not_secretary": "Chỉ thường trực Hội đồng Thi đua xã mới duyệt hồ sơ.",
    "review.none_pending": "Không có hồ sơ nào chờ duyệt. 👍",
    "review.pending_title": "Hồ sơ chờ duyệt: {total} (trang {page}/{pages}), cũ nhất trước. Chọn để mở:",
    "review.pending_line": "• {code} – {name} – {status} ({date})",
    "review.case_title": "Hồ sơ {code} – {status} – {unit}",
    "review.changed": "✏️ Lần gửi lại này đã sửa: {fields}",
    "review.reason_line": "Lý do lần trước: {reason}",
    "review.approve": "✅ Duyệt",
    "review.return": "↩️ Trả lại",
    "review.reject": "❌ Từ chối",
    "review.cancel": "Thôi, không làm nữa",
    "review.cancelled": "Đã bỏ thao tác. Hồ sơ giữ nguyên.",
    "review.already": "Hồ sơ {code} đã được xử lý rồi (trạng thái hiện tại: {status}).",
    "review.ask_return": (
        "Trả lại hồ sơ {code}: hãy gõ lý do (người đề cử sẽ nhận được). "
        "Có thể chọn các mục cần sửa trước khi gõ lý do:"
    ),
    "review.ask_reject": "Từ chối hồ sơ {code}: hãy gõ lý do (người đề cử sẽ nhận được).",
    "review.flagged": "Các mục cần sửa: {fields}. Giờ hãy gõ lý do.",
    "review.reason_number": (
        "Số này không có trong danh sách các mục. Hãy chọn số của mục cần sửa, hoặc gõ lý do bằng chữ."
    ),
    "review.reason_short": "Lý do cần ít nhất {min} ký tự, để người đề cử hiểu cần làm gì.",
    "review.done.approve": "Đã duyệt hồ sơ {code}. Người đề cử đã được báo.",
    "review.done.return": "Đã trả lại hồ sơ {code} kèm lý do. Người đề cử đã được báo.",
    "review.done.reject": "Đã từ chối hồ sơ {code} kèm lý do. Người đề cử đã được báo.",
    "review.done.commend": "Đã ghi nhận khen thưởng cho hồ sơ {code}. Người đề cử đã được báo.",
    "review.new_title": "📥 Hồ sơ đề cử mới:",
    "review.new_line": "• {code} – {name}",
    "review.resubmitted_line": "• {code} – {name} (đã bổ sung, gửi lại)",
    "commend.usage": (
        "Gõ: /khenthuong <mã>; <hình thức>; <số quyết định>; <ngày> (ngăn cách bằng dấu ; hoặc xuống dòng), "
        "ví dụ: /khenthuong NT-2026-00042; Giấy khen của Chủ tịch UBND xã; 123/QĐ-UBND; 15/12/2026"
    ),
    "commend.bad_date": "Ngày quyết định chưa đúng. Ví dụ: 15/12/2026.",
    "commend.already": "Hồ sơ {code} đã được ghi khen thưởng rồi; mỗi hồ sơ ghi một lần.",
    "commend.not_approved": "Hồ sơ {code} chưa được duyệt nên chưa ghi khen thưởng được (trạng thái: {status}).",
    "notify.approved": "🎉 Hồ sơ {code} ({name}) đã được xã duyệt và chuyển lên. Cảm ơn bạn!",
    "notify.returned": (
        "↩️ Hồ sơ {code} ({name}) cần bổ sung.\nLý do: {reason}\nCần sửa: {fields}\n"
        "Chọn bên dưới để sửa và gửi lại."
    ),
    "notify.fix_now": "✏️ Sửa hồ sơ",
    "notify.rejected": "Hồ sơ {code} ({name}) không được chọn.\nLý do: {reason}",
    "notify.commended": "🏅 Hồ sơ {code} ({name}) đã được khen thưởng: {form}, quyết định {decision} ngày {date}.",
    "fix.start": "Sửa hồ sơ {code}.\nLý do trả lại: {reason}\nCần sửa: {fields}",
    "fix.any_field": "bất kỳ mục nào bạn thấy cần",
    "fix.which": "Bạn có nhiều hồ sơ cần bổ sung. Chọn hồ sơ muốn sửa:",
    "fix.none": "Bạn không có hồ sơ nào cần bổ sung. Gõ /hoso để xem các hồ sơ của bạn.",
    "fix.not_returned": "Hồ sơ {code} không ở trạng thái cần bổ sung nên không sửa được.",
    "fix.draft_first": "Bạn đang có một hồ sơ làm dở. Hãy gửi hoặc hủy nó trước (gõ /decu để làm tiếp), rồi sửa hồ sơ này.",
    "fix.gone": "Hồ sơ này không còn ở trạng thái cần bổ sung (có thể đã được xử lý). Những thay đổi chưa được gửi.",
    "fix.resubmitted": "Đã gửi lại hồ sơ {code}. Thường trực Hội đồng Thi đua xã sẽ xem lại.",
    "withdraw.usage": "Gõ mã hồ sơ muốn rút, ví dụ: /rut NT-2026-00042",
    "withdraw.confirm": "Rút hồ sơ {code} ({name})? Hồ sơ sẽ không được xét nữa.",
    "withdraw.yes": "Rút hồ sơ",
    "withdraw.kept": "Hồ sơ vẫn được giữ.",
    "withdraw.done": "Đã rút hồ sơ {code}.",
    "withdraw.too_late": "Hồ sơ {code} không rút được nữa (trạng thái: {status}).",
    # ---- lists and numbers
    "list.title": "Hồ sơ: {total} (trang {page}/{pages})",
    "list.empty": "Không có hồ sơ nào phù hợp.",
    "list.bad_filter": "Bot chưa hiểu bộ lọc. Ví dụ: /danhsach Thôn Đông, /danhsach quý 4, /danhsach chờ duyệt",
    "stats.scope_not_yours": "Bạn xem được thống kê của: {scopes}. Gõ /thongke (quý này) hoặc /thongke nam (cả năm).",
    "stats.usage": "Gõ /thongke (quý này) hoặc /thongke nam (cả năm).",
    "stats.year": "năm {year}",
    "stats.title": "📊 {commune} – {period}: {total} hồ sơ",
    "stats.by_status": "Theo trạng thái:",
    "stats.by_unit": "Theo thôn / đơn vị:",
    "stats.by_field": "Theo lĩnh vực:",
    "stats.quota": "{mark} Chỉ tiêu năm {year}: {forwarded}/{quota} gương đã duyệt chuyển lên",
    "stats.silent": "Chưa gửi hồ sơ nào quý này: {units}",
    "stats.province_title": (
        "📊 Toàn tỉnh – {period}: {total} hồ sơ; {below}/{communes} xã, phường chưa đạt chỉ tiêu {quota} gương/năm "
        "(chưa đạt ở trên):"
    ),
    "stats.province_line": "{mark} {commune}: {forwarded}/{quota} gương; {sent} hồ sơ kỳ này",
    "stats.province_silent": "⚠️ {count} xã, phường chưa có hồ sơ nào: {communes}.",
    "stats.province_silent_more": "⚠️ {count} xã, phường chưa có hồ sơ nào: {communes} và {more} nơi khác.",
    # ---- /xuat: the secretary's dossier (bot/export/)
    "export.ask": (
        "Xuất hồ sơ {scope}: chọn kỳ (mặc định quý này; hồ sơ đã duyệt và đã khen thưởng). "
        "Hoặc gõ, ví dụ: /xuat quý 3/2026, /xuat năm 2026, /xuat 01/10/2026-20/12/2026, /xuat năm tất cả"
    ),
    "export.this_quarter": "Quý này ({period})",
    "export.last_quarter": "Quý trước ({period})",
    "export.this_year": "Cả năm {year}",
    "export.all_statuses": "Quý này, mọi trạng thái",
    "export.choose_scope": "Bạn muốn xem phạm vi nào?",
    "export.scope.commune": "{name}",
    "export.scope.province": "Toàn tỉnh: {name}",
    "export.bad_period": (
        "Bot chưa hiểu kỳ cần xuất. Ví dụ: /xuat (quý này), /xuat quý 3/2026, /xuat năm 2026, "
        "/xuat 01/10/2026-20/12/2026; thêm \"tất cả\" để lấy mọi trạng thái."
    ),
    "export.future": "Kỳ này chưa bắt đầu nên chưa có hồ sơ nào để xuất. Hãy chọn một kỳ đã qua hoặc đang diễn ra.",
    "export.empty": "Không có hồ sơ nào ({statuses}) của {scope} trong {period}. Bot không tạo tệp rỗng.",
    "export.not_found": "Không tìm thấy xã/phường {code} trong phạm vi bạn được xem.",
    "export.running": "Bản xuất trước của bạn đang được tạo; bot sẽ gửi ngay khi xong, không cần yêu cầu lại.",
    "export.progress": "⏳ Đang tạo hồ sơ {scope} – {period}… {done}/{total} hồ sơ",
    "export.drawing": "⏳ Đang tạo hồ sơ {scope} – {period}… {done}/{total} hồ sơ; đang dựng văn bản Word, PDF",
    "export.done": "✅ Đã tạo xong hồ sơ {scope} – {period}: {cases} hồ sơ, {files} tệp. Bot đang gửi tệp…",
    "export.sent": (
        "📦 Đã gửi {files} tệp: bảng tính (XLSX), ảnh gốc (ZIP, kèm manifest.csv), tờ trình, danh sách đề nghị, "
        "bản tóm tắt thành tích{awards} (Word và PDF). Tệp đã được xóa khỏi máy chủ."
    ),
    "export.awards": ", giấy khen",
    "export.missing": "⚠️ {count} ảnh không còn trong kho lưu trữ nên không có trong tệp ZIP: {photos}",
    "export.failed": "Xin lỗi, bot chưa tạo được bản xuất. Hãy thử lại sau ít phút.",
    "export.unsent": "Xin lỗi, bot chưa gửi được hết các tệp. Hãy thử /xuat lại sau ít phút.",
    "export.links": (
        "📦 Hồ sơ {scope} – {period}: {cases} hồ sơ, {files} tệp: bảng tính (XLSX), ảnh gốc (ZIP, kèm manifest.csv), "
        "tờ trình, danh sách đề nghị, bản tóm tắt thành tích{awards} (Word và PDF).\n"
        "Bấm vào từng liên kết dưới đây để tải tệp về. Liên kết dùng được đến {time} ngày {date} ({hours} giờ); "
        "sau đó tệp bị xóa khỏi máy chủ, muốn tải lại thì gõ /xuat. Tệp có dữ liệu cá nhân: "
        "đừng chuyển liên kết cho người khác."
    ),
    "export.files_here": (
        "📦 Hồ sơ {scope} – {period}: {cases} hồ sơ, {files} tệp, nằm trên máy chủ ở các đường dẫn dưới đây. "
        "Tệp được giữ đến {time} ngày {date} ({hours} giờ) rồi bị xóa: hãy chép chúng đi trước lúc đó."
    ),
    "export.no_channel": (
        "Kênh này không gửi được tệp, và bot chưa có địa chỉ web công khai để gửi liên kết tải về. Để lấy hồ sơ: "
        "gõ /xuat trên Telegram hoặc trên trang chat web của bot (bot gửi tệp hoặc liên kết tải về ở đó), "
        "hoặc nhờ quản trị viên chạy lệnh nguoitot export. Quản trị viên có thể đặt PUBLIC_BASE_URL để "
        "bot gửi được liên kết tải về ngay trên kênh này."
    ),
    "export.period.range": "từ {first} đến {last}",
    "export.statuses.default": "đã duyệt, đã khen thưởng",
    "export.sheet": "Hồ sơ",
    "export.col.code": "Mã hồ sơ",
    "export.col.name": "Họ và tên / tên tập thể",
    "export.col.kind": "Đối tượng",
    "export.col.birth_year": "Năm sinh",
    "export.col.ethnicity": "Dân tộc",
    "export.col.position": "Chức vụ, nghề nghiệp",
    "export.col.rep_name": "Người đại diện",
    "export.col.rep_role": "Chức vụ người đại diện",
    "export.col.address": "Địa chỉ",
    "export.col.unit": "Thôn / đơn vị",
    "export.col.field": "Lĩnh vực",
    "export.col.movement": "Phong trào",
    "export.col.description": "Tóm tắt việc tốt, thành tích",
    "export.col.when": "Thời gian",
    "export.col.phone": "Điện thoại",
    "export.col.consent": "Đồng ý tuyên truyền",
    "export.col.status": "Trạng thái",
    "export.col.submitted": "Ngày gửi",
    "export.col.approved": "Ngày duyệt",
    "export.col.reviewer": "Người duyệt",
    "export.col.reason": "Lý do (trả lại, từ chối)",
    "export.col.commendation": "Hình thức khen thưởng",
    "export.col.decision": "Số quyết định",
    "export.col.decision_date": "Ngày quyết định",
    "export.col.nominator": "Người đề cử",
    "export.col.photo_count": "Số ảnh",
    "export.col.photo": "Ảnh",
    "export.manifest.part": "phần",
    "export.manifest.case": "mã hồ sơ",
    "export.manifest.file": "tệp",
    "export.manifest.sha256": "sha256",
    "export.manifest.size": "kích thước (byte)",
    "export.manifest.dimensions": "số điểm ảnh",
    "export.manifest.taken": "ngày chụp",
    "chart.commune.title": "{commune} – hồ sơ năm {year} theo thôn, đơn vị",
    "chart.commune.subtitle": "Hạn {period}: {date} (còn {days} ngày)\nChỉ tiêu năm: {forwarded}/{quota} gương đã duyệt",
    "chart.commune.total": "Toàn xã, phường",
    "chart.province.title": "{province} – tiến độ chỉ tiêu năm {year}",
    "chart.province.subtitle": "{below}/{communes} xã, phường chưa đạt {quota} gương; {shown} xã chậm nhất ở trên",
    "chart.quota": "Chỉ tiêu năm: {quota} gương",
    "chart.forwarded": "Đã duyệt chuyển lên",
    "chart.other": "Đã gửi, chưa chuyển lên",
    "chart.below": "Chưa đạt chỉ tiêu",
    "chart.x_label": "Số hồ sơ",
    # ---- units and people
    "units.title": "Thôn, tổ dân phố và đoàn thể của xã (số # để sửa):",
    "units.line": "#{id} {name} ({kind}) {retired}",
    "units.kind.village": "thôn/tổ",
    "units.kind.organisation": "đoàn thể",
    "units.retired_mark": "– đã ngừng",
    "units.usage": "Gõ: /donvi them thon <tên>, /donvi them doanthe <tên>, /donvi doiten <số> <tên mới>, /donvi nghi <số>",
    "units.unknown": "Không tìm thấy đơn vị này trong xã. Gõ /donvi để xem số # của từng đơn vị.",
    "units.added": "Đã thêm: {name}.",
    "units.renamed": "Đã đổi tên {old} thành {name}.",
    "units.retired": "{name} đã ngừng (các hồ sơ cũ vẫn được giữ).",
    "units.taken": "Đã có đơn vị tên {name}.",
    "units.alike": (
        "Xã đã có \"{name}\", gần giống \"{typed}\". Nếu là một, không cần thêm. "
        "Nếu đúng là nơi khác, gõ lại kèm dấu chấm than: {again}"
    ),
    "invite.usage": "Gõ: /moi canbo <tên thôn hoặc số #>, /moi lanhdao, hoặc /moi thuky",
    "invite.unit_unknown": "Không tìm thấy thôn/đơn vị này. Gõ /donvi để xem, hoặc /donvi them thon <tên> để thêm.",
    "invite.created": "Mã mời {role} (dùng một lần, hết hạn sau {days} ngày): {code}",
    "invite.link": "Gửi đường link này cho người được mời: {link}",
    "invite.send_code": "Người được mời gửi mã này cho bot trên Zalo hoặc Telegram (hoặc gõ /start {code}).",
    # ---- /lienket: one person on Telegram and Zalo (bot/handlers/linking.py)
    "channel.telegram": "Telegram",
    "channel.zalo": "Zalo",
    "channel.terminal": "terminal",
    "channel.web": "chat web",
    "link.code": (
        "Mã liên kết: {code} (dùng một lần, hết hạn sau {minutes} phút).\n"
        "Ở kênh kia, gửi mã này cho bot (Zalo, Telegram), hoặc nhập vào ô \"Mã mời hoặc mã liên kết\" khi đăng "
        "nhập trang chat web. Sau đó bạn dùng bot ở kênh nào cũng được: cùng vai trò, cùng hồ sơ làm dở, cùng lịch sử."
    ),
    "link.linked": "Đã liên kết: {channels}. Nhắc nhở và thông báo gửi qua {channel} (đổi trong /nhacnho).",
    "link.unknown": "Mã liên kết không đúng. Hãy gõ /lienket ở kênh bạn đang dùng để lấy mã mới.",
    "link.used": "Mã liên kết này đã được dùng. Gõ /lienket để lấy mã mới.",
    "link.expired": "Mã liên kết đã hết hạn (sau {minutes} phút). Gõ /lienket ở kênh bạn đang dùng để lấy mã mới.",
    "link.same_channel": "Mã này cần gửi cho bot ở kênh kia (Zalo hoặc Telegram), không phải ở đây.",
    "link.already": "Tài khoản này đã được liên kết rồi.",
    "link.taken": (
        "Tài khoản {channel} này đang có vai trò riêng nên chưa liên kết được. Hãy nhờ thường trực Hội đồng "
        "Thi đua xã thu hồi vai trò đó (/thuhoi), rồi gửi lại mã."
    ),
    "link.done": (
        "Đã liên kết {channel} với tài khoản của {name}. Vai trò, hồ sơ làm dở và lịch sử dùng chung trên mọi "
        "kênh; nhắc nhở gửi về kênh bạn dùng gần nhất (đổi trong /nhacnho)."
    ),
    "link.notice": (
        "🔗 Tài khoản {channel} vừa được liên kết với tài khoản của bạn. Nếu không phải bạn làm, hãy báo ngay "
        "thường trực Hội đồng Thi đua xã."
    ),
    "command.lienket": "Liên kết Zalo, Telegram, chat web",
    "help.line.lienket": "– lấy mã để dùng bot trên Zalo, Telegram và trang chat web (cùng vai trò, cùng hồ sơ làm dở)",
    "people.title": "Người dùng của xã ({count}):",
    "people.line": "#{id} {name} – {role} {unit}",
    "people.hint": "Thu hồi quyền của một người: /thuhoi <số #>",
    "people.unknown": "Không tìm thấy người này trong xã.",
    "people.not_self": "Bạn không thể tự thu hồi quyền của mình.",
    "people.revoked": "Đã thu hồi quyền của {name}. Người này không dùng bot được nữa.",
    # ---- the web chat (/chat): the page's words, and what the server answers a browser
    "web.title": "Đề cử Người tốt, việc tốt",
    "web.signin_title": "Đăng nhập",
    "web.signin_intro": (
        "Nhập mã mời mà thường trực Hội đồng Thi đua – Khen thưởng xã gửi cho bạn, "
        "hoặc mã liên kết nếu bạn đã dùng bot trên Telegram hay Zalo."
    ),
    "web.code_label": "Mã mời hoặc mã liên kết",
    "web.name_label": "Họ và tên (khi dùng mã mời lần đầu)",
    "web.signin_button": "Đăng nhập",
    "web.send_button": "Gửi",
    "web.input_placeholder": "Nhập tin nhắn…",
    "web.input_label": "Tin nhắn",
    "web.camera_button": "📷 Chụp ảnh",
    "web.pick_button": "🖼️ Chọn ảnh",
    "web.commands_button": "☰ Lệnh",
    "web.signout_button": "Đăng xuất",
    "web.js.uploading": "Đang tải ảnh lên…",
    "web.js.offline": "Mất kết nối. Đang kết nối lại…",
    "web.js.unsent": "Chưa gửi được; bot sẽ gửi lại khi có mạng.",
    "web.js.signed_out": "Phiên đăng nhập đã hết hoặc đã bị thu hồi. Hãy đăng nhập lại.",
    "web.js.upload_failed": "Chưa tải được ảnh lên. Hãy kiểm tra mạng rồi chọn lại ảnh.",
    "web.js.photos": "ảnh",
    "web.csrf": "Trang đã cũ. Hãy tải lại trang rồi thử lại.",
    "web.slow_down": "Bạn thử quá nhiều lần. Hãy đợi một phút rồi thử lại.",
    "web.bad_request": "Yêu cầu không hợp lệ. Hãy tải lại trang rồi thử lại.",
    "web.signed_out": "Bạn đã đăng xuất hoặc phiên đăng nhập đã hết hạn. Hãy đăng nhập lại.",
    "web.try_again": "Máy chủ đang bận nên tin nhắn chưa được nhận; hãy gửi lại sau ít giây.",
    "web.too_many_photos": "Mỗi lần gửi tối đa {max} ảnh.",
    "web.signin.no_code": "Hãy nhập mã mời hoặc mã liên kết.",
    "web.signin.link_refused": (
        "Mã liên kết không đúng, đã được dùng hoặc đã hết hạn. Gõ /lienket trên Telegram hoặc Zalo để lấy mã mới."
    ),
    "web.signin.no_name": "Hãy nhập họ và tên của bạn (ít nhất 2 ký tự) để đăng ký bằng mã mời.",
    "web.invite": "Người được mời mở trang chat của xã và nhập mã này (hoặc gửi mã cho bot): {code}",
    # ---- the public page of a commune's approved cases (/cong-khai/<commune code>)
    "public.title": "Gương người tốt, việc tốt – {commune}",
    "public.intro": (
        "Những gương người tốt, việc tốt đã được xã duyệt hoặc khen thưởng, đăng khi người được đề cử "
        "đồng ý tuyên truyền."
    ),
    "public.none": "Chưa có gương nào được đăng.",
    "public.unknown": "Không có xã, phường nào mã {code}.",
    "public.unit": "Thôn, đơn vị",
    "public.kind": "Đối tượng",
    "public.field": "Lĩnh vực",
    "public.movement": "Phong trào",
    "public.when": "Thời gian",
    "public.status": "Kết quả",
}


def t(key: str, **values: object) -> str:
    """The catalogue text for `key`, filled in; a missing key is a bug and fails loudly in tests."""
    template = VI[key]
    return template.format(**values) if values else template


def has(key: str) -> bool:
    return key in VI
