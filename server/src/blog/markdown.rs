//! Markdown to HTML for the blog, safe to put in a page: a post is written by whoever has
//! the token and read by everyone, so nothing in it may run in a reader's browser. The post
//! service renders each post's body once per answer (`Post.body_html`), so every client
//! shows the same, and the web app carries no Markdown parser (70 KB of its gzipped size).
//!
//! pulldown-cmark parses and writes the HTML; two things are changed on the way, which is
//! all the sanitizing Markdown needs, since everything else it writes is escaped:
//! - **Raw HTML** in the source (`<script>`, `<img onerror=…>`, any tag) is passed on as
//!   text, so it shows escaped instead of becoming markup.
//! - **Link and image URLs** keep only `http:`, `https:` and `mailto:` schemes, or none
//!   (relative links, `#anchors`); `javascript:`, `data:` and the rest become `#`.
//!
//! Written here rather than with an HTML sanitizer (ammonia): that would parse the HTML
//! again to remove what these two rules never let in.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// The HTML of `source`, with no raw HTML and only safe URLs.
pub fn to_html(source: &str) -> String {
    let options =
        Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    let events = Parser::new_ext(source, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

/// `url` if its scheme is one a reader can follow safely (or it has none), `#` otherwise.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    // Browsers ignore ASCII whitespace and control characters inside a scheme
    // (`java\tscript:`), so the scheme is read without them.
    let scheme: String = url
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
        .take_while(|c| *c != ':' && *c != '/' && *c != '?' && *c != '#')
        .collect::<String>()
        .to_ascii_lowercase();
    let has_scheme = url
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
        .nth(scheme.chars().count())
        == Some(':');
    if !has_scheme || matches!(scheme.as_str(), "http" | "https" | "mailto") {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn markdown_becomes_html() {
        assert_eq!(
            to_html("# Title\n\nSome *text* and [a link](https://example.com)."),
            "<h1>Title</h1>\n<p>Some <em>text</em> and <a href=\"https://example.com\">a link</a>.</p>\n"
        );
        assert!(to_html("[rel](/blog/1)").contains("href=\"/blog/1\""));
        assert!(to_html("[mail](mailto:a@b.c)").contains("href=\"mailto:a@b.c\""));
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        let html = to_html("<script>alert(1)</script>\n\nhi <img src=x onerror=alert(2)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn dangerous_urls_become_anchors() {
        for source in [
            "[x](javascript:alert(1))",
            "[x](JavaScript:alert(1))",
            "[x](<java\tscript:alert(1)>)",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "![x](javascript:alert(1))",
            "[x](vbscript:msgbox)",
        ] {
            let html = to_html(source);
            assert!(
                html.contains("href=\"#\"") || html.contains("src=\"#\""),
                "{source} -> {html}"
            );
        }
    }
}
