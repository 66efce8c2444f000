from app.rag.chunking import chunk_markdown, markdown_title, split_sections, window_words


def words(text: str) -> int:
    return len(text.split())


DOC = """# Returns policy

Most items come back easily.

## Tents

Tents can be returned within 60 days of delivery.

### Used tents

A tent that was pitched still counts.

## Footwear

Boots: 30 days, unworn.
"""


def test_title_is_first_level_one_heading():
    assert markdown_title(DOC, "fallback") == "Returns policy"
    assert markdown_title("no heading here", "fallback") == "fallback"


def test_sections_carry_their_heading_path():
    sections = split_sections(DOC)
    assert [s.path for s in sections] == [
        ("Returns policy",),
        ("Returns policy", "Tents"),
        ("Returns policy", "Tents", "Used tents"),
        ("Returns policy", "Footwear"),
    ]
    assert sections[1].text == "Tents can be returned within 60 days of delivery."


def test_small_sections_become_one_chunk_each_with_positions():
    chunks = chunk_markdown(DOC, size=50, overlap=5, count=words)
    assert [c.position for c in chunks] == [0, 1, 2, 3]
    assert chunks[1].heading == "Returns policy › Tents"
    assert chunks[3].token_count == words("Boots: 30 days, unworn.")


def test_long_sections_split_into_overlapping_windows_within_size():
    text = " ".join(f"w{i}" for i in range(100))
    windows = list(window_words(text.split(), size=30, overlap=5, count=words))
    assert all(words(w) <= 30 for w in windows)
    assert windows[0].split()[-5:] == windows[1].split()[:5]
    covered = {w for window in windows for w in window.split()}
    assert covered == set(text.split())


def test_skipped_heading_levels_keep_a_clean_path():
    chunks = chunk_markdown("# A\n\n### C\n\ntext", size=50, overlap=0, count=words)
    assert chunks[0].heading == "A › C"


def test_windowing_counts_tokens_linearly():
    calls = []

    def counting(text: str) -> int:
        calls.append(text)
        return len(text.split())

    words_ = [f"w{i}" for i in range(5000)]
    windows = list(window_words(words_, size=100, overlap=20, count=counting))
    assert all(len(w.split()) <= 100 for w in windows)
    # one count per word and one per window, never one per (window, word) pair
    assert len(calls) <= len(words_) + len(windows)
    assert sum(len(c.split()) for c in calls) <= 3 * len(words_)


def test_windows_shrink_when_the_tokenizer_is_not_additive_over_words():
    def merging(text: str) -> int:  # joined text costs one token more per space
        return len(text.split()) * 2 - 1

    windows = list(window_words([f"w{i}" for i in range(50)], 9, 0, merging))
    assert all(merging(w) <= 9 for w in windows)
    assert " ".join(windows).split() == [f"w{i}" for i in range(50)]
