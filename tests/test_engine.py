"""The flow engine on its own: pure, no database (the rules a reviewer found broken, among others)."""

from __future__ import annotations

from datetime import date

from bot.flows.engine import Context, Engine, Input, PhotoInput, State
from bot.flows.nomination import FIX, NOMINATION
from common.messages import t

CTX = Context(today=date(2026, 11, 22), home_address="Thôn Đông, Phường Hoàn Kiếm")
ENGINE = Engine(NOMINATION)
PHOTO = {"sha256": "a" * 64, "size": 1, "width": 1, "height": 1, "mime_type": "image/jpeg"}


def run(state: State, *texts: str, engine: Engine = ENGINE):
    outcome = None
    for text in texts:
        outcome = engine.handle(state, Input(text=text), CTX)
        state = outcome.state
    return outcome


def individual_until(step: str) -> State:
    state = ENGINE.start(CTX).state
    answers = ("1", "Nguyễn Văn An", "1970", "Kinh", "không có", "1", "4", "Không rõ",
               "Ông An đã cứu hai em nhỏ bị đuối nước.", "hôm qua")  # kind … when, in order
    for text in answers:
        if state.step == step:
            break
        state = run(state, text).state
    return state


def test_kho_is_an_ethnic_group_not_a_prefix_of_khong_ro():
    state = individual_until("ethnicity")
    assert run(state, "K'Ho").state.answers["ethnicity"] == "Cơ Ho"
    state = individual_until("ethnicity")
    assert run(state, "khong ro").state.answers["ethnicity"] is None
    state = individual_until("ethnicity")
    assert run(state, "2").state.answers["ethnicity"] == "Tày"


def test_at_the_photo_step_done_words_end_it_and_clearing_needs_the_exact_button():
    state = individual_until("photos")
    state = ENGINE.handle(state, Input(photos=PhotoInput(stored=(PHOTO,))), CTX).state
    for word in ("xong rồi", "đủ rồi", "hết", "Xong"):
        assert run(State.from_json(state.to_json()), word).state.step == "phone", word
    asked = run(State.from_json(state.to_json()), "2")  # the number of "Xóa hết ảnh, gửi lại": asked first
    assert asked.replies[0].text == t("photos.clear_confirm", total=1) and asked.state.answers["photos"]
    cleared = run(State.from_json(asked.state.to_json()), "1").state  # "Có, xóa hết ảnh"
    assert cleared.answers["photos"] == [] and cleared.step == "photos"
    assert run(cleared, "ảnh").replies[0].text == t("photos.need_photo")  # no photo yet: not an answer


def test_the_photo_step_ends_when_the_next_question_is_answered():
    state = individual_until("photos")
    outcome = ENGINE.handle(state, Input(photos=PhotoInput(stored=(PHOTO,))), CTX)
    [ack] = outcome.replies
    assert ack.text == " ".join([t("photos.received", added=1, total=1), t("photos.then_next")]) + "\n" + t(
        "nom.phone.prompt")
    assert [c.label for c in ack.choices] == [t("choice.skip"), t("photos.clear")]  # no "Xong" needed
    answered = run(State.from_json(outcome.state.to_json()), "0912 345 678").state
    assert answered.step == "consent" and answered.answers["phone"] == "+84912345678"
    assert answered.answers["photos"] == [PHOTO] and answered.history[-2:] == ["photos", "phone"]
    skipped = ENGINE.handle(State.from_json(outcome.state.to_json()), Input(choice="phone:_skip"), CTX).state
    assert skipped.step == "consent" and skipped.answers["phone"] is None
    assert run(State.from_json(outcome.state.to_json()), "1").state.step == "consent"  # "1. Bỏ qua", typed
    wrong = run(State.from_json(outcome.state.to_json()), "ảnh đây")  # taken as the phone number: asked again
    assert wrong.state.step == "phone" and wrong.replies[0].text == t("invalid.phone.format")
    assert wrong.state.answers["photos"] == [PHOTO]


def test_late_photos_of_the_same_batch_still_count():
    state = ENGINE.handle(individual_until("photos"), Input(photos=PhotoInput(stored=(PHOTO,))), CTX).state
    state = run(state, "abc").state  # the next question, asked again
    late = {**PHOTO, "sha256": "b" * 64}
    outcome = ENGINE.handle(state, Input(photos=PhotoInput(stored=(late,))), CTX)
    assert outcome.state.answers["photos"] == [PHOTO, late] and outcome.state.step == "phone"
    assert outcome.replies[0].text.startswith(t("photos.received", added=1, total=2))
    assert outcome.replies[0].text.endswith(t("nom.phone.prompt"))
    answered = run(outcome.state, "bo qua").state
    refused = ENGINE.handle(answered, Input(photos=PhotoInput(stored=({**PHOTO, "sha256": "c" * 64},))), CTX)
    assert refused.replies[0].text == t("input.need_text")  # once the next question is answered, no more


def test_the_fix_flow_visits_every_flagged_answer_before_the_summary():
    state = run(individual_until("photos"), "xong").state  # no photos: asked again
    state = ENGINE.handle(state, Input(photos=PhotoInput(stored=(PHOTO,))), CTX).state
    state = run(state, "xong", "bo qua", "co").state
    fix = Engine(FIX)
    flagged = State(step="name", answers=dict(state.answers), editing=True, queue=["photos", "phone"],
                    data={"case_id": 1})
    after_name = run(flagged, "Nguyễn Văn Bình", engine=fix).state
    assert after_name.step == "photos"
    after_photos = run(after_name, "xong", engine=fix).state
    assert after_photos.step == "phone"
    done = run(after_photos, "0912345678", engine=fix)
    assert done.state.step == "summary" and done.events == ["summary"]
    assert done.replies[0].choices[0].label == t("summary.resend")


def test_back_skips_questions_that_no_longer_apply_after_the_kind_changed():
    state = individual_until("photos")
    state = ENGINE.handle(state, Input(photos=PhotoInput(stored=(PHOTO,))), CTX).state
    state = run(state, "xong", "bo qua", "co").state
    assert state.step == "summary"
    state = ENGINE.handle(state, Input(choice="summary:edit"), CTX).state
    state = ENGINE.handle(state, Input(choice="summary:edit.kind"), CTX).state
    state = run(state, "tap the", "bo qua").state  # collective: a representative, then the summary
    assert state.step == "summary"
    visited = []
    for _ in range(12):
        state = ENGINE.handle(state, Input(control="back"), CTX).state
        visited.append(state.step)
    assert not {"birth_year", "ethnicity", "position"} & set(visited)
    assert visited[-1] == "kind"
