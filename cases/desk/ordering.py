"""Orders people read in Chinese (issue 16 §8): categories by pinyin, with "其他…" (other) always last,
instead of by Unicode code point (which put 其他 second, after 城乡建设)."""
from functools import lru_cache

OTHER_PREFIXES = ("其他", "其它")


@lru_cache(maxsize=4096)
def pinyin_key(name: str) -> str:
    """The name in toneless pinyin (``城乡建设`` → ``cheng xiang jian she``), for sorting; characters
    pypinyin does not know are kept as they are."""
    from pypinyin import Style, lazy_pinyin

    return " ".join(lazy_pinyin(name, style=Style.NORMAL, errors="default"))


def category_sort_key(name: str) -> tuple:
    """Sort key of a category name: the "other" ones last, then by pinyin, then by the name itself."""
    return (name.startswith(OTHER_PREFIXES), pinyin_key(name), name)
