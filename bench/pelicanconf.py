"""Pelican settings for the baseline of bench/build.py: feeds only.

Pelican writes the all-entries feed and one Atom and one RSS feed per
category (feedpub's topic) and per author (feedpub's provider), 50 entries
each with the full HTML content, as feedpub does. Every other output is off:
no article, page, index, archive, tag, category or author pages, no theme or
static files, no content cache. Used as

    pelican CONTENT -o OUT -s bench/pelicanconf.py

with CONTENT made by bench/pelican_corpus.py.
"""

SITENAME = "feedpub benchmark"
SITEURL = "https://feeds.example.org"
FEED_DOMAIN = SITEURL
TIMEZONE = "UTC"
DEFAULT_LANG = "en"
RELATIVE_URLS = False

# What feedpub writes: all, per topic, per provider; Atom and RSS; 50 entries.
FEED_ALL_ATOM = "all.atom"
FEED_ALL_RSS = "all.rss"
CATEGORY_FEED_ATOM = "topics/{slug}.atom"
CATEGORY_FEED_RSS = "topics/{slug}.rss"
AUTHOR_FEED_ATOM = "providers/{slug}.atom"
AUTHOR_FEED_RSS = "providers/{slug}.rss"
FEED_MAX_ITEMS = 50
RSS_FEED_SUMMARY_ONLY = False  # full HTML content in RSS too, like feedpub's
FEED_ATOM = None
FEED_RSS = None
TAG_FEED_ATOM = None
TAG_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
TRANSLATION_FEED_RSS = None

# Everything else off.
ARTICLE_PATHS = [""]
PAGE_PATHS = []
STATIC_PATHS = []
THEME_STATIC_PATHS = []
DIRECT_TEMPLATES = []
PAGINATED_TEMPLATES = {}
TEMPLATE_PAGES = {}
USE_FOLDER_AS_CATEGORY = False
ARTICLE_SAVE_AS = ""
ARTICLE_LANG_SAVE_AS = ""
DRAFT_SAVE_AS = ""
DRAFT_LANG_SAVE_AS = ""
PAGE_SAVE_AS = ""
PAGE_LANG_SAVE_AS = ""
DRAFT_PAGE_SAVE_AS = ""
DRAFT_PAGE_LANG_SAVE_AS = ""
INDEX_SAVE_AS = ""
TAGS_SAVE_AS = ""
CATEGORIES_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
ARCHIVES_SAVE_AS = ""
CATEGORY_SAVE_AS = ""
TAG_SAVE_AS = ""
AUTHOR_SAVE_AS = ""
YEAR_ARCHIVE_SAVE_AS = ""
MONTH_ARCHIVE_SAVE_AS = ""
DAY_ARCHIVE_SAVE_AS = ""
OUTPUT_SOURCES = False

# A cold build every time: no content cache read or written.
CACHE_CONTENT = False
LOAD_CONTENT_CACHE = False
PLUGINS = []
