"""The aggregator config for a benchmark world: every source on the loopback server, 50 topics.

The topics are the kind a user writes (DESIGN.md's config example): Chinese and English keywords,
a few regexes, `all`/`none` rules, category and source limits, and one catch-all. On the world's
articles they range from broad (a third of all stories or more) to niche (well under 1%), so a
publish has both kinds of work: topics that fill at once and topics that look far back.

The config is written as plain block YAML (scalars as JSON strings, which YAML reads as
double-quoted strings), the way users write it, so loading it costs what loading theirs costs.
"""

from __future__ import annotations

import json
from pathlib import Path

import world

# id -> rules; "title" defaults to the id.
TOPICS: dict[str, dict[str, list[str] | str]] = {
    "ai": {
        "title": "AI 人工智能",
        "any": ["AI", "人工智能", "大模型", "LLM", "飞桨", "/GPT-?\\d/"],
        "none": ["招聘"],
    },
    "llm": {
        "title": "大模型",
        "any": ["大模型", "LLM", "通义千问", "文心一言", "DeepSeek", "Llama", "Qwen2.5"],
    },
    "ml-frameworks": {"any": ["PyTorch", "TensorFlow", "飞桨", "PaddlePaddle"]},
    "ai-apps": {"any": ["LangChain", "vLLM", "Ollama", "Stable Diffusion", "Hugging Face"]},
    "rust": {"title": "Rust", "any": ["Rust", "RustConf", "Rust China Conf"]},
    "go": {"title": "Go 语言", "any": ["Go", "Golang", "GopherCon"]},
    "python": {"any": ["Python", "PyCon", "Guido van Rossum"]},
    "javascript": {"any": ["JavaScript", "TypeScript", "Node.js", "Deno", "React", "Vue.js"]},
    "java": {"any": ["Java", "Spring Boot", "Dubbo", "Nacos", "IntelliJ IDEA"]},
    "linux": {"title": "Linux", "any": ["Linux 内核", "Linus Torvalds", "Greg Kroah-Hartman", "kernel"]},
    "distros": {"any": ["Ubuntu", "Fedora", "Debian", "Arch Linux", "openEuler", "统信软件"]},
    "kubernetes": {"any": ["Kubernetes", "K8s", "KubeCon", "Istio"]},
    "cloud-native": {"title": "云原生", "any": ["云原生", "cloud native", "cloud-native"]},
    "containers": {"any": ["Docker", "容器", "container", "containers"]},
    "observability": {"any": ["Prometheus", "Grafana", "可观测性", "observability"]},
    "databases": {"title": "数据库", "any": ["数据库", "database", "PostgreSQL", "MySQL", "SQLite", "TiDB"]},
    "postgres": {"any": ["PostgreSQL", "Postgres"]},
    "cache": {"any": ["Redis", "缓存"]},
    "bigdata": {"any": ["Spark", "Flink", "Kafka", "Apache Doris", "Databricks", "大数据"]},
    "search": {"any": ["Elasticsearch", "向量检索", "vector search"]},
    "security": {
        "title": "安全",
        "any": ["漏洞", "CVE", "security", "vulnerability", "供应链攻击", "supply-chain"],
    },
    "cve": {"any": ["/cve-\\d{4}-\\d{4,5}/"]},
    "chips": {"title": "芯片", "any": ["芯片", "RISC-V", "GPU", "NVIDIA", "昇腾", "寒武纪", "龙芯"]},
    "riscv": {"any": ["RISC-V"]},
    "mobile": {"any": ["Android", "iOS", "鸿蒙", "HarmonyOS", "OpenHarmony"]},
    "harmony": {"title": "鸿蒙", "any": ["鸿蒙", "OpenHarmony", "HarmonyOS"]},
    "browsers": {"any": ["Chrome", "Firefox", "浏览器", "browser"]},
    "webassembly": {"any": ["WebAssembly", "Wasm"]},
    "editors": {"any": ["VS Code", "IntelliJ IDEA", "JetBrains", "编辑器"]},
    "compilers": {"any": ["LLVM", "GCC", "编译器", "compiler", "增量编译器"]},
    "oss-events": {
        "title": "开源活动",
        "any": ["峰会", "大会", "conference", "GOTC", "FOSDEM", "KubeCon", "Open Source Summit"],
        "none": ["招聘"],
    },
    "foundations": {"any": ["开放原子开源基金会", "Linux Foundation", "Apache Software Foundation", "捐赠"]},
    "cloud": {"any": ["云计算", "Amazon", "re:Invent", "Cloudflare", "阿里巴巴"]},
    "big-tech-cn": {"any": ["百度", "阿里巴巴", "腾讯", "华为", "字节跳动"]},
    "big-tech-us": {"any": ["Google", "Microsoft", "Apple", "Meta", "Amazon"]},
    "apple": {"any": ["Apple", "WWDC"]},
    "github": {"any": ["GitHub", "Pull Request"]},
    "releases": {"title": "版本发布", "any": ["正式发布", "has released", "release notes", "发布说明"]},
    "performance": {"any": ["性能", "performance", "推理速度", "query latency", "吞吐"]},
    "hiring": {"title": "招聘", "any": ["招聘", "hiring"]},
    "people": {"any": ["Linus Torvalds", "Guido van Rossum", "Andrej Karpathy", "Kelsey Hightower"]},
    "ai-china": {
        "all": ["大模型"],
        "any": ["百度", "阿里巴巴", "智谱", "月之暗面", "深度求索"],
        "none": ["招聘"],
    },
    "ai-hardware": {"all": ["/gpu|nvidia|昇腾|寒武纪/"], "any": ["大模型", "LLM", "AI"]},
    "db-security": {"all": ["/postgresql|mysql|redis|sqlite|tidb/", "/cve-\\d+-\\d+/"]},
    "events-beijing": {"all": ["北京"], "any": ["大会", "峰会"], "none": ["招聘"]},
    "quantum": {"title": "量子计算", "any": ["量子计算", "quantum computing", "量子芯片"]},
    "riscv-wasm": {"all": ["RISC-V", "WebAssembly", "Cloudflare"]},
    "cat-ai": {"title": "分类：人工智能", "categories": ["人工智能", "AI"]},
    "first-sources": {"title": "前十个来源", "sources": []},  # filled with the first ten source ids
    "everything": {"title": "全部"},
}


def source_id(index: int) -> str:
    return f"s{index:05d}"


def write_config(
    path: Path,
    *,
    sources: int,
    feed_base: str | list[str],
    data_dir: Path,
    port: int,
    interval: str,
    concurrency: int,
    per_host: int | None = None,
    database: str | None = None,
    topics: int | None = None,
) -> None:
    """Write the config for `sources` sources served at `feed_base` (http://127.0.0.1:PORT), or
    at several bases (hosts) in turn, source s at `feed_base[s % len(feed_base)]`.

    By default every source is on one loopback server, so `per_host` is raised to `concurrency`: a
    real poller meets many hosts, and aiohttp's cap of 2 per host would otherwise make one host
    the bottleneck. `database` is a PostgreSQL URL instead of the SQLite file in `data_dir`;
    `topics` keeps the first that many of TOPICS, but always `everything` (the last).
    """
    q = json.dumps
    bases = [feed_base] if isinstance(feed_base, str) else feed_base
    lines = [
        f"database: {q(database or str(data_dir / 'aggregator.db'))}",
        "output:",
        f"  dir: {q(str(data_dir / 'public'))}",
        f"  base_url: {q(f'http://127.0.0.1:{port}/')}",
        "  max_items: 50",
        "  title: 基准测试",
        "server:",
        "  host: 127.0.0.1",
        f"  port: {port}",
        "polling:",
        f"  interval: {interval}",
        "  timeout: 60s",
        f"  concurrency: {concurrency}",
        f"  per_host: {per_host or concurrency}",
        "sources:",
    ]
    for s in range(sources):
        categories = ["资讯", "科技"] if world.is_chinese(s) else ["News"]
        lines += [
            f"  - id: {source_id(s)}",
            f"    title: {q(world.source_title(s), ensure_ascii=False)}",
            f"    url: {q(bases[s % len(bases)] + world.feed_path(s))}",
            f"    categories: [{', '.join(q(c, ensure_ascii=False) for c in categories)}]",
        ]
    lines.append("topics:")
    chosen = list(TOPICS.items())
    if topics is not None:
        chosen = [*chosen[: max(0, topics - 1)], chosen[-1]]
    for topic_id, rules in chosen:
        lines.append(f"  {topic_id}:")
        lines.append(f"    title: {q(rules.get('title', topic_id), ensure_ascii=False)}")
        for name in ("any", "all", "none", "categories", "sources"):
            values = rules.get(name)
            if name == "sources" and values is not None:
                values = [source_id(s) for s in range(min(10, sources))]
            if values:
                lines.append(f"    {name}: [{', '.join(q(k, ensure_ascii=False) for k in values)}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
