from app.web.citations import link_citations

CONTEXT = [{"citation": 1, "chunk_id": 41}, {"citation": 2, "chunk_id": 7}]


def test_cited_sources_link_to_their_chunks():
    html = str(link_citations("Sixty days [1], unworn boots [2].", CONTEXT))
    assert '<a class="cite" href="/chunks/41">[1]</a>' in html
    assert '<a class="cite" href="/chunks/7">[2]</a>' in html


def test_model_output_stays_escaped_and_unknown_numbers_stay_text():
    html = str(link_citations('<script>alert("x")</script> see [3] and [1]', CONTEXT))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "[3]" in html and 'href="/chunks/3' not in html
    assert str(link_citations("no sources [1]", None)) == "no sources [1]"
