"""Full-text search finds words inside longer words, Korean two-syllable words, phones."""

from inbox import contacts, listing, search
from inbox.listing import InboxFilter
from inbox.models import Conversation

from .factories import receive


def _found(user, q):
    page = listing.conversations(user, InboxFilter(q=q))
    return {row.contact.name for row in page.rows}


def test_bigram_document_splits_words_into_overlapping_pairs():
    assert search.bigram_document("견적서를 Invoice") == "견적 적서 서를 in nv vo oi ic ce"


def test_korean_two_syllable_word_is_found_inside_a_longer_word(email_channel, agent):
    receive(email_channel, address="a@example.com", name="박서연", text="홈페이지 견적서를 받아볼 수 있을까요?")
    receive(email_channel, address="b@example.com", name="최우진", text="배송은 언제 오나요")
    assert _found(agent, "견적") == {"박서연"}
    assert _found(agent, "견적서") == {"박서연"}
    assert _found(agent, "배송") == {"최우진"}
    assert _found(agent, "환불") == set()


def test_search_is_a_substring_match_not_a_bag_of_pairs(email_channel, agent):
    receive(email_channel, address="a@example.com", name="A", text="적서견")  # has 적서 and 견 but not 견적
    assert _found(agent, "견적") == set()


def test_english_words_match_case_insensitively_inside_words(email_channel, agent):
    receive(email_channel, address="a@example.com", name="Emily", text="Could you send the PROPOSAL?")
    assert _found(agent, "proposal") == {"Emily"}
    assert _found(agent, "propos") == {"Emily"}
    assert _found(agent, "propose") == set()


def test_contacts_are_found_by_name_email_company_and_phone(agent):
    contacts.create(agent, name="한지민", company="지민상사", emails=["jimin@sangsa.kr"], phones=["010-2345-6789"])
    assert _found(agent, "지민") == {"한지민"}
    assert _found(agent, "sangsa") == {"한지민"}
    assert _found(agent, "2345") == {"한지민"}
    assert _found(agent, "010-2345") == {"한지민"}
    assert _found(agent, "+8210 2345 6789") == {"한지민"}


def test_search_ignores_folders_and_finds_closed_conversations(email_channel, agent):
    from inbox import conversations

    receive(email_channel, address="a@example.com", name="Closed Customer", text="refund please")
    conversations.close(Conversation.get(), agent)
    assert _found(agent, "refund") == {"Closed Customer"}


def test_merged_away_contact_is_no_longer_found_by_its_own_row(agent):
    a = contacts.create(agent, name="Same Person", emails=["one@example.com"])
    b = contacts.create(agent, name="Same Person", emails=["two@example.com"])
    contacts.merge(a, b, agent)
    ids = search.matching_contact_ids("person")
    assert ids == [a.id]
