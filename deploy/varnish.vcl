vcl 4.1;
# feedpub behind Varnish (Debian's varnish 7): Varnish caches the answers of
# `gunicorn wsgi:app` for as long as feedpub's headers say, and purges by
# surrogate key.
#
#   FEEDPUB_CONTENT_DIR=/srv/feedpub/content FEEDPUB_BASE_URL=https://feeds.example.org \
#       gunicorn --bind 127.0.0.1:8000 --worker-class gthread --workers 2 --threads 4 wsgi:app
#
# Debian: `apt-get install varnish`, copy this file over
# /etc/varnish/default.vcl (the varnish service loads it; it listens on
# :6081, `systemctl edit varnish` changes -a), then `systemctl reload
# varnish`. Change the backend address, and the `purgers` list if purges
# come from another machine. Set FEEDPUB_BASE_URL: Varnish passes readers'
# Host header on, and without a base URL feedpub answers loopback names
# only. Tested by tests/test_varnish.py.
#
# What feedpub sends, and what this file does with it:
#
# - `Cache-Control: public, max-age=N, stale-while-revalidate=S,
#   stale-if-error=E`: a copy is fresh for N seconds (Varnish's own reading
#   of max-age); for S seconds more, a reader gets it at once while one
#   background request revalidates it (Varnish reads stale-while-revalidate
#   as the object's grace); after that, a reader waits for feedpub, except
#   when feedpub fails (no answer, or 5xx): then any copy up to E seconds
#   past its max-age is served rather than an error (Varnish has no
#   stale-if-error of its own: this file keeps objects for that long and
#   says when to use them).
# - `ETag` and `Last-Modified`: an expired copy is revalidated with them
#   (Varnish sends If-None-Match and If-Modified-Since itself), so an
#   unchanged feed costs feedpub a 304, not a body; readers' own conditional
#   requests are answered 304 from the cache.
# - `Surrogate-Key: feed:topics:ai entry:1a2b3c4d5e6f ...`: the feed and the
#   entries each document shows. `BAN` with the keys to evict, from an
#   address of `purgers` only, evicts exactly the documents naming any of
#   them:
#       curl -X BAN -H 'Surrogate-Key: entry:1a2b3c4d5e6f feed:topics:ai' http://127.0.0.1:6081/
#   (the same header, comma separated, is `Cache-Tag`, for a CDN in front).
# - `Vary: Accept-Encoding`: Varnish asks feedpub for gzip, stores that one
#   copy, and unzips it for the rare reader that takes no gzip (with a weak
#   form of feedpub's gzip ETag, W/"...-gzip", which validates the same).
# - feedpub never sets a cookie and reads none: readers' cookies (set by
#   another application on the same host name) are dropped so that they do
#   not make every request a miss.
#
# `X-Cache` tells operators (and the tests) how each answer came:
# HIT (fresh copy), STALE (served past max-age: within
# stale-while-revalidate, or because feedpub failed), MISS (fetched whole),
# REVALIDATED (fetched with a 304 for the stale copy). `Age` is Varnish's.

import std;

backend feedpub {
    .host = "127.0.0.1";
    .port = "8000";
    .connect_timeout = 2s;
    .first_byte_timeout = 30s;
}

# Who may purge.
acl purgers {
    "localhost";
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "BAN") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        # Keys are feedpub's: letters, digits, ':', '_', '-', separated by
        # single spaces; nothing else reaches the ban's regular expression.
        if (req.http.Surrogate-Key !~ "^[A-Za-z0-9:_-]+( [A-Za-z0-9:_-]+)*$") {
            return (synth(400, "Surrogate-Key: one or more keys, space separated"));
        }
        # A key matches whole, between spaces or the ends of the header
        # (written without a space: the ban's own syntax splits at spaces).
        # Only obj.* in the expression, so that the ban lurker can evict
        # the banned objects in the background.
        if (std.ban("obj.http.Surrogate-Key ~ (^|[[:space:]])(" + regsuball(req.http.Surrogate-Key, " ", "|") +
                    ")([[:space:]]|$)")) {
            return (synth(200, "Banned"));
        }
        return (synth(400, std.ban_error()));
    }
    if (req.restarts == 0) {
        unset req.http.X-Feedpub-Stale;
    }
    if (req.http.X-Feedpub-Stale == "expired") {
        # The copy is past stale-while-revalidate (vcl_hit): no grace now,
        # so this lookup fetches (revalidating the copy it found).
        set req.grace = 0s;
    } elsif (req.http.X-Feedpub-Stale == "error") {
        # feedpub failed (vcl_synth): any copy within its grace will do,
        # whatever the restart before set.
        set req.grace = 3650d;
    }
    unset req.http.Cookie;
}

sub vcl_hit {
    # Past max-age + stale-while-revalidate a copy is only there for
    # stale-if-error: ask feedpub first, unless feedpub just failed.
    if (obj.ttl + std.duration(obj.http.X-Feedpub-SWR, 0s) <= 0s && req.http.X-Feedpub-Stale != "error") {
        set req.http.X-Feedpub-Stale = "expired";
        return (restart);
    }
}

sub vcl_backend_response {
    if (beresp.status >= 500) {
        # Keep the stale copy rather than replace it with an error: a failed
        # background fetch is dropped, and a reader's fetch is retried once
        # to find a copy within stale-if-error (vcl_synth).
        if (bereq.is_bgfetch || bereq.http.X-Feedpub-Stale != "error") {
            return (abandon);
        }
        set beresp.uncacheable = true;
        set beresp.ttl = 0s;
        return (deliver);
    }
    # beresp.ttl is max-age and beresp.grace stale-while-revalidate, as
    # Varnish read them; remember the latter (vcl_hit) and keep the object
    # for as long as stale-if-error says, if that is longer.
    set beresp.http.X-Feedpub-SWR = beresp.grace + "s";
    if (beresp.http.Cache-Control ~ "stale-if-error=[0-9]+") {
        set beresp.http.X-Feedpub-SIE =
            regsub(beresp.http.Cache-Control, "^.*stale-if-error=([0-9]+).*$", "\1") + "s";
        if (std.duration(beresp.http.X-Feedpub-SIE, 0s) > beresp.grace) {
            set beresp.grace = std.duration(beresp.http.X-Feedpub-SIE, 0s);
        }
        unset beresp.http.X-Feedpub-SIE;
    }
    # After that, an hour more to revalidate with the ETag instead of
    # fetching the whole document again.
    set beresp.keep = 1h;
    if (beresp.was_304) {
        set beresp.http.X-Feedpub-Revalidated = "1";
    } else {
        unset beresp.http.X-Feedpub-Revalidated;
    }
}

sub vcl_backend_error {
    # No answer from feedpub: as for a 5xx above.
    if (bereq.is_bgfetch || bereq.http.X-Feedpub-Stale != "error") {
        return (abandon);
    }
}

sub vcl_synth {
    if (resp.status == 503 && req.http.X-Feedpub-Stale != "error" && (req.method == "GET" || req.method == "HEAD")) {
        # feedpub failed: look again, this time taking any copy within
        # stale-if-error (the object's grace).
        set req.http.X-Feedpub-Stale = "error";
        return (restart);
    }
}

sub vcl_deliver {
    if (obj.hits > 0) {
        if (obj.ttl > 0s) {
            set resp.http.X-Cache = "HIT";
        } else {
            set resp.http.X-Cache = "STALE";
        }
    } elsif (resp.http.X-Feedpub-Revalidated) {
        set resp.http.X-Cache = "REVALIDATED";
    } else {
        set resp.http.X-Cache = "MISS";
    }
    unset resp.http.X-Feedpub-SWR;
    unset resp.http.X-Feedpub-Revalidated;
}
