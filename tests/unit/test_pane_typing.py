"""The readiness signal that replaces the fixed pause before Enter: the pane shows the paste."""

from sesh_mesh.agents.pane_typing import paste_mark, paste_shown


def test_a_short_paste_shows_as_one_more_copy_of_its_last_word() -> None:
    mark = paste_mark("please reply with ok-4f2a\n")
    assert mark == "ok-4f2a"
    before = "> ok-4f2a was the last one\n> "
    assert not paste_shown(before, before, mark)
    assert paste_shown(before, before + "please reply with ok-4f2a", mark)


def test_a_long_paste_shows_as_a_new_placeholder_in_each_tui() -> None:
    for placeholder in ("[Pasted text #2 +40 lines]", "[Pasted Content 1040 chars]", "[paste #1 +41 lines]"):
        before = "ctrl+y to paste deleted text\n> "
        assert paste_shown(before, before + placeholder, "zzz"), placeholder
        # The same placeholder already on screen (an earlier paste) is not this one.
        assert not paste_shown(before + placeholder, before + placeholder, "zzz"), placeholder
