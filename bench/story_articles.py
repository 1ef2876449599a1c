"""Hand-written news articles behind tests/fixtures/stories/pairs.jsonl (see make_story_pairs.py).

ARTICLES are distinct stories, Chinese and English, written the way OSChina, LWN or a vendor blog
would; make_story_pairs.py reposts each with realistic edits. NEAR_MISSES are templated series
whose members share most of their text and are still different stories: release notes of
consecutive versions, numbered digests, release candidates, kernel releases, and weekly posts
with one title.
"""

from __future__ import annotations

ARTICLES = [
    {
        "id": "zh-paddle",
        "lang": "zh",
        "title": "开源 5 年，汇聚 320 万开发者，他们为什么爱飞桨？",
        "paras": [
            "2016年，百度 PaddlePaddle 作为国产深度学习框架开源的先行者，正式对外开放。截至今年 5 月，飞桨已凝聚 320 万开发者，服务 12.4 万家企业，基于飞桨开源深度学习平台产生了 36.2 万个模型。",
            "在 7 月 4 日举行的飞桨开发者日上，百度集团副总裁吴甜介绍了飞桨开源五年来的发展历程。她表示，飞桨从最初的一个深度学习框架，成长为集核心框架、基础模型库、端到端开发套件与丰富的工具组件于一体的产业级平台。",
            "本次活动中，飞桨还发布了全新的开发者成长体系和企业合作计划，面向高校学生、个人开发者与企业工程师提供分层次的课程、认证与算力支持，并宣布与多家硬件厂商完成适配，覆盖 CPU、GPU 以及多款国产 AI 芯片。",
            "吴甜说，开源的意义在于让更多人参与进来。未来飞桨将继续坚持开源开放，降低深度学习技术的应用门槛，让更多开发者用 AI 解决实际问题。",
        ],
    },
    {
        "id": "zh-openeuler",
        "lang": "zh",
        "title": "openEuler 社区发布首个创新版本，支持多种处理器架构",
        "paras": [
            "openEuler 社区近日正式发布了 openEuler 21.03 创新版本。这是社区成立以来的第一个创新版本，内核升级到 5.10，面向服务器、云计算与边缘计算等场景，支持鲲鹏、x86 与树莓派等多种硬件平台。",
            "新版本引入了内核热升级、内存分级扩展等特性，并提供了 iSulad 轻量级容器引擎的新版本。社区表示，创新版本的目标是让开发者尽早体验最新的技术特性，而长期支持版本则面向追求稳定的生产环境。",
            "据介绍，openEuler 社区目前已有超过 3000 名贡献者参与，成立了 60 多个特别兴趣小组，合作伙伴覆盖操作系统厂商、芯片厂商、高校和科研院所。多家厂商已基于 openEuler 推出了商业发行版。",
            "社区技术委员会表示，接下来将继续完善软件包生态，并计划在年底发布下一个长期支持版本，欢迎更多开发者参与到社区建设中来。",
        ],
    },
    {
        "id": "zh-harmony",
        "lang": "zh",
        "title": "华为正式发布鸿蒙操作系统，首批机型开始升级",
        "paras": [
            "6 月 2 日晚，华为举行鸿蒙操作系统及全场景新品发布会，正式推出面向手机等移动终端的鸿蒙系统。华为消费者业务 CEO 余承东在发布会上表示，鸿蒙是面向万物互联时代的全场景分布式操作系统。",
            "发布会上，华为展示了服务卡片、超级终端等新的交互方式。用户只需将设备图标拖拽到一起，即可将手机与平板、耳机、音箱等设备连接起来，实现跨设备的音视频流转与协同办公。",
            "华为表示，首批共有数十款手机和平板可以升级到新系统，后续将分批推送给更多老机型。目前已有超过 300 家应用和服务伙伴、1000 多家硬件伙伴加入鸿蒙生态。",
            "与此同时，由开放原子开源基金会孵化的 OpenHarmony 项目也在持续推进，开发者可以在代码托管平台上获取其源代码并参与贡献。",
        ],
    },
    {
        "id": "zh-loongarch",
        "lang": "zh",
        "title": "龙芯推出自主指令系统 LoongArch，兼容主流指令系统",
        "paras": [
            "龙芯中科日前正式发布自主指令系统架构 LoongArch。该架构从顶层规划、各部分功能定义，到每条指令的编码、名称与含义，均由龙芯自主设计，不需要国外授权。",
            "龙芯方面介绍，LoongArch 包括基础架构部分以及向量扩展、虚拟化扩展和二进制翻译扩展等部分，近 2000 条指令。通过二进制翻译技术，LoongArch 可以运行为其他主流指令系统编译的应用程序。",
            "目前，龙芯已经基于 LoongArch 推出了新一代处理器，并与操作系统厂商合作完成了操作系统、浏览器、办公软件等基础软件的移植。GCC、LLVM、Go、Java 等编译器和运行时也在陆续完成适配。",
            "业内人士认为，建立自主的指令系统生态是一项长期工作，需要上游开源社区的广泛支持，龙芯正在积极向各个开源项目提交补丁。",
        ],
    },
    {
        "id": "zh-polardb",
        "lang": "zh",
        "title": "阿里云宣布开源云原生数据库 PolarDB，代码托管至 GitHub",
        "paras": [
            "在近日举行的开发者大会上，阿里云宣布将自研的云原生数据库 PolarDB 开源，首批开源的是基于 PostgreSQL 的分布式版本，全部代码已经托管在 GitHub 上，采用 Apache 2.0 许可证。",
            "阿里云数据库产品事业部负责人表示，PolarDB 采用存储计算分离的架构，支持计算节点秒级扩容，能够在保证高可用的同时显著降低企业的数据库成本。开源版本提供与商业版本一致的核心能力。",
            "阿里云同时宣布成立数据库开源社区，并将在未来几年内持续投入，与开发者共建生态。社区将提供详细的部署文档、技术博客和在线课程，帮助开发者快速上手。",
        ],
    },
    {
        "id": "zh-tidb",
        "lang": "zh",
        "title": "PingCAP 发布 TiDB 5.0，分析与事务一体化能力大幅提升",
        "paras": [
            "分布式数据库厂商 PingCAP 近日正式发布 TiDB 5.0 版本。新版本引入了 MPP 架构，TiFlash 分析引擎可以在多个节点之间并行执行复杂查询，从而在同一套系统中同时服务在线交易与实时分析。",
            "除此之外，TiDB 5.0 还支持聚簇索引、异步提交事务以及一阶段提交等特性，写入延迟显著降低。官方公布的基准测试结果显示，在 TPC-C 测试中新版本的性能较上一个大版本提升了约 36%。",
            "PingCAP 联合创始人兼 CTO 黄东旭表示，TiDB 从诞生之初就是开源项目，社区贡献者已超过 1000 人。5.0 版本的许多改进来自于用户在生产环境中的反馈。",
            "用户可以从官网下载新版本，也可以通过 TiUP 工具一键升级现有集群。官方建议升级前仔细阅读兼容性说明。",
        ],
    },
    {
        "id": "zh-echarts",
        "lang": "zh",
        "title": "Apache ECharts 5.1 发布，新增标签防重叠与数据下钻动画",
        "paras": [
            "Apache ECharts 团队近日发布了 5.1 版本。作为一个基于 JavaScript 的开源可视化图表库，ECharts 在国内外拥有大量用户，新版本继续在易用性和表现力上做了改进。",
            "5.1 版本新增了标签自动防重叠功能，当图表中的标签过于密集时，ECharts 会自动调整位置或隐藏部分标签；同时新增了数据下钻时的过渡动画，让用户在不同层级的数据之间切换时更加自然。",
            "此外，新版本改进了 TypeScript 类型定义，修复了 80 多个问题，并对按需引入的打包体积做了进一步优化。团队感谢社区中每一位提交问题和代码的贡献者。",
        ],
    },
    {
        "id": "zh-gitee-review",
        "lang": "zh",
        "title": "Gitee 上线代码审查新功能，支持多人评审与合并门禁",
        "paras": [
            "国内代码托管平台 Gitee 近日上线了全新的代码审查功能。开发者在提交 Pull Request 后，可以指定多名评审人，并为仓库设置合并门禁：只有通过指定数量的评审与自动化测试，代码才能被合并。",
            "Gitee 产品负责人介绍，新功能参考了大量企业用户的研发流程，支持按目录指定代码负责人，评审意见可以直接定位到具体代码行，并与工作项、流水线打通。",
            "该功能目前已向企业版用户开放，开源项目也可以免费使用基础版本。Gitee 表示，后续还将推出基于静态分析的自动审查建议。",
        ],
    },
    {
        "id": "zh-cloudwego",
        "lang": "zh",
        "title": "字节跳动开源微服务中间件 CloudWeGo，包含 RPC 框架 Kitex",
        "paras": [
            "字节跳动基础架构团队宣布正式开源内部微服务中间件集合 CloudWeGo。首批开源的项目包括高性能 RPC 框架 Kitex 以及网络库 Netpoll，均使用 Go 语言编写。",
            "据介绍，Kitex 在字节跳动内部已经支撑了数万个微服务，日调用量达到万亿级别。与同类框架相比，Kitex 在吞吐量和延迟方面具有明显优势，并支持 Thrift、Protobuf 等多种协议。",
            "字节跳动表示，开源版本与内部版本保持同一套代码，内部的特性将持续同步到开源仓库。团队也欢迎社区开发者参与贡献，共同完善微服务生态。",
            "CloudWeGo 的代码托管在 GitHub 上，采用 Apache 2.0 许可证，官方网站提供了完整的文档与示例。",
        ],
    },
    {
        "id": "zh-ernie",
        "lang": "zh",
        "title": "百度发布知识增强大模型 ERNIE 3.0，刷新 50 多个中文任务纪录",
        "paras": [
            "百度近日发布了知识增强的百亿参数大模型 ERNIE 3.0。该模型在纯文本和知识图谱构成的 4TB 大规模语料上进行预训练，在 54 个中文自然语言处理基准任务上取得了领先成绩。",
            "与以往的预训练模型不同，ERNIE 3.0 同时具备自然语言理解和生成能力，能够完成阅读理解、文本分类、小说续写、诗歌创作等多种任务。百度在论文中详细介绍了其持续学习框架。",
            "百度表示，ERNIE 3.0 已经通过飞桨平台向开发者开放体验，企业可以在此基础上进行微调，应用到搜索、客服、内容审核等场景中。",
        ],
    },
    {
        "id": "zh-copilot",
        "lang": "zh",
        "title": "GitHub 推出 AI 编程助手 Copilot，可根据注释自动生成代码",
        "paras": [
            "GitHub 与 OpenAI 合作推出了名为 Copilot 的 AI 编程助手。Copilot 以编辑器插件的形式提供，能够根据函数名、注释和上下文自动补全整行甚至整个函数的代码。",
            "GitHub CEO Nat Friedman 表示，Copilot 基于 OpenAI 的 Codex 模型，在数十亿行公开代码上训练而成，支持 Python、JavaScript、TypeScript、Ruby 和 Go 等多种语言。",
            "目前 Copilot 以技术预览版的形式提供，开发者可以在 Visual Studio Code 中安装插件并申请试用。不过也有开发者对其生成代码的版权问题和安全性提出了质疑。",
            "GitHub 表示，Copilot 并不会取代程序员，而是帮助开发者更快地完成重复性的工作，让他们把精力集中在更有创造性的部分。",
        ],
    },
    {
        "id": "zh-log4j",
        "lang": "zh",
        "title": "Apache Log4j 曝出远程代码执行漏洞，影响范围极广",
        "paras": [
            "Apache Log4j 2 日前被曝存在严重的远程代码执行漏洞，攻击者只需让目标系统记录一段特制的字符串，即可利用 JNDI 注入在服务器上执行任意代码。该漏洞编号为 CVE-2021-44228，危害等级为严重。",
            "由于 Log4j 被大量 Java 应用和框架使用，从企业内部系统到知名互联网服务都可能受到影响。多家安全厂商监测到，漏洞公开后短时间内就出现了大规模的扫描和利用行为。",
            "Apache 软件基金会已经发布了修复版本，建议所有用户尽快升级到最新版本。对于暂时无法升级的系统，可以通过设置相关参数或移除 JndiLookup 类来临时缓解。",
            "安全专家提醒，除了直接依赖 Log4j 的应用外，还需要排查通过第三方组件间接引入的情况，并持续关注后续的补丁更新。",
        ],
    },
    {
        "id": "zh-vue",
        "lang": "zh",
        "title": "Vue 3.2 发布，单文件组件新增 script setup 语法",
        "paras": [
            "Vue.js 作者尤雨溪宣布 Vue 3.2 正式发布。该版本将此前处于实验阶段的 script setup 语法和 style 中的 v-bind 功能转为稳定特性，让单文件组件的写法更加简洁。",
            "此外，Vue 3.2 对响应式系统进行了大幅重构，ref 的读取速度提升约 260%，写入速度提升约 50%，内存占用也有所降低。新版本还引入了 v-memo 指令，用于缓存模板中的部分子树。",
            "新版本同样带来了 defineCustomElement 方法，开发者可以使用 Vue 组件的 API 来构建原生的自定义元素。尤雨溪感谢了社区贡献者在性能优化方面所做的工作。",
        ],
    },
    {
        "id": "zh-fleet",
        "lang": "zh",
        "title": "JetBrains 发布轻量级编辑器 Fleet，支持分布式开发",
        "paras": [
            "JetBrains 公布了一款名为 Fleet 的新产品。Fleet 被定位为轻量级的代码编辑器，同时也可以在需要时切换为功能完整的智能 IDE，提供代码补全、重构、导航等能力。",
            "Fleet 采用了分布式架构，编辑器前端和负责代码分析的后端可以运行在不同的机器上，开发者可以连接远程服务器或容器进行开发，也支持多人实时协作编辑。",
            "JetBrains 表示，Fleet 将支持 Java、Kotlin、Python、Go、JavaScript、Rust 等多种语言，目前开放了预览版申请，名额有限。",
        ],
    },
    {
        "id": "zh-python310",
        "lang": "zh",
        "title": "Python 3.10 正式发布，带来结构化模式匹配",
        "paras": [
            "Python 软件基金会宣布 Python 3.10 正式发布。这一版本最受关注的新特性是结构化模式匹配，开发者可以使用 match 和 case 语句对数据的结构进行匹配，写出更清晰的分支逻辑。",
            "Python 3.10 还改进了错误提示信息，当出现括号未闭合、缩进错误等常见问题时，解释器会给出更准确的位置和修改建议。此外，类型注解支持使用竖线书写联合类型。",
            "官方提醒，部分在旧版本中已弃用的模块和接口在 3.10 中被移除，升级前应检查项目依赖。新版本的安装包已经可以在官网下载。",
            "按照新的发布节奏，Python 每年发布一个新版本，下一个版本预计将重点提升解释器的运行速度。",
        ],
    },
    {
        "id": "zh-ohos",
        "lang": "zh",
        "title": "OpenHarmony 发布新版本，增加分布式数据管理能力",
        "paras": [
            "开放原子开源基金会旗下的 OpenHarmony 项目近日发布新版本。该版本在此前轻量系统的基础上，新增了面向标准系统的能力，支持带屏幕的富设备，开发者可以基于开发板体验完整的图形界面。",
            "新版本增加了分布式数据管理、分布式任务调度等能力，应用可以在多个设备之间同步数据和迁移任务。同时提供了 JS 应用开发框架和配套的开发工具。",
            "据统计，OpenHarmony 项目目前已有来自数十家单位的数百名贡献者，代码仓库数量超过 400 个。项目组表示，欢迎更多厂商和开发者参与共建。",
        ],
    },
    {
        "id": "zh-lf-report",
        "lang": "zh",
        "title": "Linux 基金会发布开源人才报告：云计算技能最受欢迎",
        "paras": [
            "Linux 基金会与 edX 联合发布了年度开源就业报告。报告显示，招聘经理在招聘开源人才时最看重的是云计算和容器相关技能，其次是 Linux 系统管理与 DevOps 实践。",
            "报告调查了数百名招聘经理和数千名开源从业者。结果显示，超过九成的招聘经理表示很难找到具备足够开源技能的人才，越来越多的企业开始为员工支付认证和培训费用。",
            "Linux 基金会培训与认证负责人表示，开源技能的需求在疫情期间不降反升，开发者通过参与开源项目积累的经验，在求职中具有明显优势。",
        ],
    },
    {
        "id": "zh-deno",
        "lang": "zh",
        "title": "Deno 公司宣布完成 2100 万美元 A 轮融资",
        "paras": [
            "Node.js 之父 Ryan Dahl 创立的 Deno 公司宣布完成 2100 万美元的 A 轮融资，由红杉资本领投。Deno 是一个安全的 JavaScript 和 TypeScript 运行时，基于 V8 引擎和 Rust 语言构建。",
            "Deno 公司表示，这笔资金将用于扩大工程团队，继续开发开源的 Deno 运行时，并打造基于边缘计算的托管服务 Deno Deploy，让开发者可以在全球分布的节点上运行代码。",
            "Ryan Dahl 在博客中写道，Deno 运行时本身将始终保持开源和免费，公司的商业化将集中在托管服务上。",
        ],
    },
    {
        "id": "zh-antirez",
        "lang": "zh",
        "title": "Redis 之父 antirez 宣布退出项目维护",
        "paras": [
            "Redis 的创造者 Salvatore Sanfilippo（网名 antirez）在个人博客上宣布，他将不再担任 Redis 项目的维护者，转而担任 Redis Labs 的顾问角色。",
            "antirez 在文章中写道，他从来不想成为一个只处理代码审查和社区事务的维护者，而是更喜欢写代码、创造新的东西。过去几年项目的发展让他越来越多地把时间花在管理工作上。",
            "Redis Labs 表示，Redis 将采用新的社区治理模式，由两名来自公司的核心开发者接手项目维护，同时成立核心团队来共同决策。",
            "在 11 年的时间里，Redis 从一个个人项目成长为世界上最受欢迎的内存数据库之一，被大量互联网公司用于缓存、消息队列与排行榜等场景。",
        ],
    },
    {
        "id": "zh-rust-foundation",
        "lang": "zh",
        "title": "Rust 基金会正式成立，五家科技公司成为创始成员",
        "paras": [
            "Rust 核心团队宣布 Rust 基金会正式成立。这是一个独立的非营利组织，负责管理 Rust 编程语言及其生态系统的相关事务，包括商标、基础设施和开发者社区的支持。",
            "基金会的创始白金会员包括亚马逊云科技、华为、谷歌、微软和 Mozilla。每家公司都将派出代表加入董事会，董事会中还有来自 Rust 项目本身的代表。",
            "Rust 最早由 Mozilla 开发，以内存安全和高性能著称，已连续多年被开发者评为最受喜爱的编程语言。基金会表示，将优先为项目维护者提供资金和资源上的支持。",
        ],
    },
    {
        "id": "zh-kylin",
        "lang": "zh",
        "title": "银河麒麟操作系统发布新版本，适配国产 CPU 平台",
        "paras": [
            "麒麟软件近日发布了银河麒麟桌面操作系统的新版本。新系统同源支持飞腾、鲲鹏、龙芯、申威、海光、兆芯等国产处理器平台，提供统一的界面和开发接口。",
            "新版本在界面设计上做了较大调整，增加了平板模式和手机互联功能，并对开机速度、系统响应和稳定性进行了优化。麒麟软件表示，新系统的软件商店已上架数千款应用。",
            "麒麟软件同时宣布加入多个开源社区，并将部分自研组件贡献给上游项目，推动国产操作系统生态的发展。",
        ],
    },
    {
        "id": "zh-wps",
        "lang": "zh",
        "title": "WPS Office 发布 Linux 新版本，界面与 Windows 版保持一致",
        "paras": [
            "金山办公发布了 WPS Office 的 Linux 新版本。新版本在界面上与 Windows 版保持一致，支持标签式多文档管理，并对文字、表格、演示三大组件进行了全面更新。",
            "此次更新还修复了在高分辨率屏幕下字体显示模糊的问题，改善了与微软 Office 文档格式的兼容性，并提供了 deb 与 rpm 两种安装包，支持主流的 Linux 发行版。",
            "金山办公表示，Linux 版用户数量在过去一年中增长明显，公司将继续加大对 Linux 平台的投入。",
        ],
    },
    {
        "id": "zh-chromium-quic",
        "lang": "zh",
        "title": "IETF 正式发布 QUIC 协议标准 RFC 9000",
        "paras": [
            "互联网工程任务组 IETF 正式发布了 QUIC 传输协议的标准文档 RFC 9000。QUIC 最初由谷歌设计，基于 UDP 实现，集成了 TLS 加密，旨在降低连接建立的延迟并改善网络切换时的体验。",
            "与 TCP 相比，QUIC 可以在一次往返中完成握手，并通过多路复用避免队头阻塞。HTTP/3 正是建立在 QUIC 之上的新一代 HTTP 协议。",
            "目前，主流浏览器和多家 CDN 厂商已经支持 QUIC，Nginx 等服务器软件也在开发相应的实现。业内人士认为，标准的正式发布将进一步推动 QUIC 的普及。",
        ],
    },
    {
        "id": "zh-opensource-law",
        "lang": "zh",
        "title": "工信部：推动开源生态建设，培育国际化开源社区",
        "paras": [
            "工业和信息化部在近日发布的软件和信息技术服务业发展规划中提出，要繁荣国内开源生态，培育具有国际影响力的开源项目和开源社区。",
            "规划提出，要支持开源基金会的发展，完善开源软件治理规则，推动企业、高校和科研机构参与开源，建设代码托管平台等开源基础设施，并加强开源人才的培养。",
            "专家表示，开源已经成为软件产业创新的重要模式，此次规划对开源的重视程度前所未有，对国内开源项目和社区的发展将产生积极影响。",
        ],
    },
    {
        "id": "zh-apisix",
        "lang": "zh",
        "title": "Apache APISIX 毕业成为 Apache 顶级项目",
        "paras": [
            "Apache 软件基金会宣布，云原生 API 网关 APISIX 从孵化器毕业，正式成为 Apache 顶级项目。APISIX 由国内团队发起，于 2019 年捐赠给 Apache 软件基金会。",
            "APISIX 基于 Nginx 与 etcd 构建，提供动态路由、负载均衡、身份认证、限流限速等丰富的插件，支持在运行时热更新配置而无需重启服务。",
            "在孵化期间，APISIX 社区吸引了来自世界各地的数百名贡献者，已被多家互联网公司与金融机构用于生产环境。项目管理委员会表示，将继续以社区驱动的方式发展项目。",
        ],
    },
    {
        "id": "en-copilot",
        "lang": "en",
        "title": "GitHub Copilot: an AI pair programmer that suggests whole functions",
        "paras": [
            "GitHub has announced Copilot, a new tool built with OpenAI that suggests lines of code and entire functions as developers type. It is available today as a technical preview for Visual Studio Code.",
            "Copilot is powered by OpenAI Codex, a model trained on billions of lines of public source code and natural language. It works best with Python, JavaScript, TypeScript, Ruby and Go, and can turn a descriptive comment into working code.",
            "GitHub CEO Nat Friedman said the goal is to help developers explore new libraries and write tests faster, not to replace them. The company acknowledged that suggested code may contain bugs or insecure patterns and should be reviewed like any other contribution.",
            "Some developers have already raised questions about licensing, since the model was trained on code released under a variety of open source licenses.",
        ],
    },
    {
        "id": "en-log4shell",
        "lang": "en",
        "title": "Critical Log4j flaw puts millions of Java applications at risk",
        "paras": [
            "A critical remote code execution vulnerability in Apache Log4j 2, tracked as CVE-2021-44228 and nicknamed Log4Shell, is being actively exploited. An attacker who can get a crafted string logged can make the library fetch and run code from a remote server through JNDI lookups.",
            "Because Log4j is embedded in countless enterprise products, cloud services and games, security researchers described the flaw as one of the most serious in years. Mass scanning began within hours of the proof of concept being published.",
            "The Apache Software Foundation has released fixed versions and urges users to upgrade immediately. Where upgrading is not possible, removing the JndiLookup class from the classpath mitigates the issue.",
            "Vendors are now racing to audit their software for vulnerable copies of the library, including those pulled in indirectly through third-party dependencies.",
        ],
    },
    {
        "id": "en-lets-encrypt",
        "lang": "en",
        "title": "Let's Encrypt root certificate expiry breaks older devices",
        "paras": [
            "The DST Root CA X3 certificate that Let's Encrypt used for cross-signing expired on September 30, and some older clients have started failing to connect to sites using Let's Encrypt certificates.",
            "Affected systems include devices running old versions of Android, macOS and iOS, as well as software relying on OpenSSL 1.0.2 or earlier, which may reject the chain even though a valid path through the ISRG Root X1 certificate exists.",
            "Let's Encrypt had warned about the change for more than a year. Administrators who see errors are advised to update their operating systems and trust stores, or to serve an alternate certificate chain.",
        ],
    },
    {
        "id": "en-audacity",
        "lang": "en",
        "title": "Audacity backs down on telemetry after community backlash",
        "paras": [
            "The new owners of the Audacity audio editor have dropped plans to add telemetry based on Google Analytics and Yandex Metrica, after the proposal drew strong criticism from users and contributors.",
            "Muse Group, which acquired the project earlier this year, said in a statement that it had made mistakes in the way the change was communicated. The company now plans to collect only optional error reports and update checks, both disabled by default in builds distributed by Linux packagers.",
            "The episode prompted several forks of the popular open source program, and a heated discussion about the project's new privacy policy, which was later revised as well.",
        ],
    },
    {
        "id": "en-deno-funding",
        "lang": "en",
        "title": "Deno raises $21 million to build a commercial edge platform",
        "paras": [
            "The Deno Company, founded by Node.js creator Ryan Dahl, has raised $21 million in a Series A round led by Sequoia Capital. Deno is a secure runtime for JavaScript and TypeScript built on V8 and Rust.",
            "The company will use the money to grow its engineering team and to develop Deno Deploy, a hosted service that runs JavaScript at the edge in data centers around the world.",
            "Dahl said the open source runtime will remain free and MIT licensed, and that the company's business will be built on top of it rather than by restricting it.",
        ],
    },
    {
        "id": "en-pico",
        "lang": "en",
        "title": "Raspberry Pi launches Pico, a $4 microcontroller board with its own chip",
        "paras": [
            "Raspberry Pi has launched the Pico, a microcontroller board priced at $4 and built around RP2040, the first chip designed in-house by the foundation's engineers.",
            "RP2040 pairs two Arm Cortex-M0+ cores running at 133 MHz with 264 KB of on-chip RAM, and adds programmable I/O blocks that can emulate interfaces such as VGA or extra serial ports.",
            "The board can be programmed in C or MicroPython, and partners including Adafruit, Arduino and SparkFun are preparing their own boards based on the same chip.",
        ],
    },
    {
        "id": "en-elastic",
        "lang": "en",
        "title": "Elastic moves Elasticsearch and Kibana away from the Apache license",
        "paras": [
            "Elastic has announced that future versions of Elasticsearch and Kibana will no longer be released under the Apache License 2.0. Instead, users will be able to choose between the Server Side Public License and the Elastic License.",
            "The company said the change is aimed at cloud providers that offer Elasticsearch as a managed service without contributing back. Neither license is approved by the Open Source Initiative, which means the projects are no longer open source in the usual sense.",
            "Amazon responded by announcing a fork of the last Apache-licensed versions, which it will maintain together with partners under a new name.",
        ],
    },
    {
        "id": "en-asahi",
        "lang": "en",
        "title": "Asahi Linux reports progress on running Linux on Apple M1 Macs",
        "paras": [
            "The Asahi Linux project, which aims to bring Linux to Apple silicon Macs, has published a progress report describing support for the M1's interrupt controller, USB, PCIe and the display controller.",
            "Project lead Hector Martin explained that much of the work consists of reverse engineering undocumented hardware, and that drivers are being submitted upstream so that regular distributions can eventually boot on the machines.",
            "The GPU remains the largest missing piece, with a separate effort working on an open source driver. Until then, the desktop runs with software rendering, which is usable but slow.",
        ],
    },
    {
        "id": "en-fastly",
        "lang": "en",
        "title": "Fastly outage takes down major websites for an hour",
        "paras": [
            "A large number of popular websites, including news outlets, government portals and online shops, were unreachable for about an hour on Tuesday after an outage at the content delivery network Fastly.",
            "Fastly later said the disruption was caused by an undiscovered software bug that was triggered when a customer pushed a valid configuration change. Within minutes, 85% of its network was returning errors.",
            "The company said it had identified the problem within a minute and restored service in under an hour, and that it would deploy a permanent fix. The incident renewed discussion about how much of the web depends on a handful of providers.",
        ],
    },
    {
        "id": "en-php-foundation",
        "lang": "en",
        "title": "The PHP Foundation is created to fund the language's core developers",
        "paras": [
            "JetBrains and several other companies have announced the PHP Foundation, a non-profit collective that will pay developers to work on the PHP language itself.",
            "The move follows the news that Nikita Popov, one of the most prolific contributors to PHP in recent years, is stepping back to work on other projects. Founding members include Automattic, Laravel, Acquia, Zend and PrestaShop.",
            "The foundation is run through Open Collective and aims to fund several full-time or part-time core contributors. Anyone can contribute money, and the spending will be public.",
        ],
    },
    {
        "id": "en-flutter2",
        "lang": "en",
        "title": "Google releases Flutter 2 with web support in the stable channel",
        "paras": [
            "Google has released Flutter 2, bringing production-quality web support to its open source UI toolkit alongside Android and iOS. Desktop support for Windows, macOS and Linux is available in early release.",
            "The release also adds sound null safety, which arrived with Dart 2.12, and Google says that most of the popular packages have already been migrated.",
            "According to Google, more than 150,000 Flutter apps have been published to the Play Store. Canonical announced at the same event that Flutter will become the default choice for future desktop and mobile apps from Ubuntu.",
        ],
    },
    {
        "id": "en-fedora34",
        "lang": "en",
        "title": "Fedora 34 released with GNOME 40 and PipeWire by default",
        "paras": [
            "The Fedora Project has announced the release of Fedora 34. The Workstation edition ships GNOME 40, whose redesigned activities overview arranges workspaces horizontally and places the dash at the bottom of the screen.",
            "PipeWire now replaces PulseAudio for audio playback, promising better support for professional audio and Bluetooth devices, while Btrfs transparent compression is enabled by default to save disk space.",
            "A KDE Plasma desktop edition for the AArch64 architecture and a new i3 spin are also available. Existing users can upgrade with the DNF system upgrade plugin or through GNOME Software.",
        ],
    },
    {
        "id": "en-solarwinds",
        "lang": "en",
        "title": "Researchers detail how the SolarWinds supply chain attack worked",
        "paras": [
            "Security researchers have published a detailed analysis of the malware that was inserted into the build process of SolarWinds Orion, the network monitoring product used by thousands of organisations.",
            "The attackers planted a small implant that watched for the product's build and swapped in a modified source file just before compilation, then restored the original, leaving few traces in the source repository.",
            "The report recommends that vendors make their builds reproducible and verify the output of build servers independently, so that tampering in the build pipeline can be detected.",
        ],
    },
    {
        "id": "en-rust-foundation",
        "lang": "en",
        "title": "The Rust Foundation is formed with five founding member companies",
        "paras": [
            "The Rust Core Team has announced the formation of the Rust Foundation, an independent non-profit organisation that will steward the Rust programming language and its ecosystem.",
            "The founding platinum members are AWS, Huawei, Google, Microsoft and Mozilla. Each will appoint a director to the board, which also includes directors elected from the Rust project itself.",
            "The foundation said its first priority is to support the maintainers who keep the project running, including by paying for the infrastructure that builds and tests every release.",
        ],
    },
]

# Each series: members that share a template and are different stories. Pairs are taken within
# a series (consecutive members, and first with last).
NEAR_MISSES = [
    {
        "id": "nm-rust-zh",
        "lang": "zh",
        "kind": "version",
        "members": [
            {
                "title": f"Rust {version} 发布",
                "paras": [
                    f"Rust 团队发布了 Rust {version} 稳定版。Rust 是一门赋予每个人构建可靠且高效软件能力的编程语言。",
                    f"如果你已经通过 rustup 安装了旧版本的 Rust，可以通过运行 rustup update stable 命令升级到 Rust {version}。如果你还没有安装 rustup，可以从官网的安装页面获取。",
                    highlights,
                    f"完整的变更内容请查阅 Rust、Cargo 和 Clippy 的详细发布说明。感谢所有为 Rust {version} 作出贡献的开发者，没有大家的共同努力，就没有这个版本。",
                ],
            }
            for version, highlights in [
                (
                    "1.54",
                    "本次更新的亮点包括：属性中现在可以调用类似函数的宏，例如使用 include_str 将 README 作为文档注释；wasm32 平台新增了一批 target_feature 内联函数；增量编译在修复了已知问题后重新默认启用。",
                ),
                (
                    "1.55",
                    "本次更新的亮点包括：Cargo 会对编译器输出中重复的错误进行去重；浮点数解析改用 Eisel-Lemire 算法，速度更快也更准确；std::io::ErrorKind 的未分类错误有了新的变体；范围模式现在支持开区间。",
                ),
                (
                    "1.56",
                    "本次更新的亮点包括：Rust 2021 版本正式稳定，闭包可以只捕获结构体的部分字段，数组实现了 IntoIterator；Cargo.toml 中可以通过 rust-version 字段声明项目支持的最低 Rust 版本。",
                ),
            ]
        ],
    },
    {
        "id": "nm-rust-en",
        "lang": "en",
        "kind": "version",
        "members": [
            {
                "title": f"Announcing Rust {version}",
                "paras": [
                    f"The Rust team is happy to announce a new version of Rust, {version}. Rust is a programming language empowering everyone to build reliable and efficient software.",
                    f"If you have a previous version of Rust installed via rustup, getting Rust {version} is as easy as running rustup update stable. If you don't have it already, you can get rustup from the appropriate page on our website.",
                    highlights,
                    f"There are other changes in the Rust {version} release: check out what changed in Rust, Cargo, and Clippy. Many people came together to create Rust {version}. We couldn't have done it without all of you. Thanks!",
                ],
            }
            for version, highlights in [
                (
                    "1.54.0",
                    "What's in 1.54.0 stable: attributes can invoke function-like macros, so a crate can include its README as documentation; new wasm32 target features are stabilized; and incremental compilation is re-enabled by default after the bug that disabled it was fixed.",
                ),
                (
                    "1.55.0",
                    "What's in 1.55.0 stable: Cargo deduplicates compiler errors, float parsing now uses the Eisel-Lemire algorithm and is both faster and correct on edge cases, std::io::ErrorKind gains an Uncategorized variant, and open range patterns are stabilized.",
                ),
            ]
        ],
    },
    {
        "id": "nm-weekly-zh",
        "lang": "zh",
        "kind": "digest",
        "members": [
            {
                "title": f"开源周刊第 {issue} 期",
                "paras": [
                    "欢迎阅读开源周刊，我们每周为你精选开源世界的新闻、项目与文章，帮助你用几分钟了解本周发生了什么。",
                    *entries,
                    "以上就是本期的全部内容。如果你有想推荐的开源项目或文章，欢迎在评论区留言，也可以向我们投稿。我们下周再见。",
                ],
            }
            for issue, entries in [
                (
                    "100",
                    [
                        "本周新闻：Linux 内核 5.13 正式发布，初步支持苹果 M1 芯片；Fedora 项目宣布下一版本将默认使用 PipeWire。",
                        "本周项目：一款使用 Rust 编写的终端文件管理器，支持预览图片与压缩包，启动速度极快。",
                        "本周文章：如何为一个成熟的开源项目提交第一个补丁，从阅读贡献指南到通过代码审查。",
                    ],
                ),
                (
                    "101",
                    [
                        "本周新闻：Python 3.10 发布第三个测试版，结构化模式匹配功能基本定型；GitHub 推出 AI 编程助手 Copilot 技术预览。",
                        "本周项目：一个轻量级的自托管密码管理器，兼容主流浏览器插件，可以部署在树莓派上。",
                        "本周文章：从零开始理解 eBPF，以及它如何改变 Linux 上的可观测性工具。",
                    ],
                ),
                (
                    "102",
                    [
                        "本周新闻：Audacity 的新东家撤回了加入遥测功能的计划；Deno 公司完成 2100 万美元融资。",
                        "本周项目：一个用 Go 编写的分布式任务调度框架，提供 Web 管理界面和失败重试机制。",
                        "本周文章：数据库索引的工作原理，以及为什么有时候加了索引查询反而更慢。",
                    ],
                ),
            ]
        ],
    },
    {
        "id": "nm-twir-en",
        "lang": "en",
        "kind": "digest",
        "members": [
            {
                "title": f"This Week in Rust {issue}",
                "paras": [
                    "Hello and welcome to another issue of This Week in Rust! Rust is a programming language empowering everyone to build reliable and efficient software. This is a weekly summary of its progress and community.",
                    *entries,
                    "Every week we highlight a crate and a quote. Please submit your suggestions and votes for next week! This Week in Rust is edited by the community team. Discuss on r/rust.",
                ],
            }
            for issue, entries in [
                (
                    "397",
                    [
                        "Updates from Rust Community: the Rust Foundation publishes its first annual report, and a new working group on async ergonomics is formed.",
                        "Crate of the Week: a declarative command line argument parser that derives its help text from doc comments.",
                    ],
                ),
                (
                    "398",
                    [
                        "Updates from Rust Community: a survey on compile times opens, and the embedded working group releases a new HAL for RISC-V boards.",
                        "Crate of the Week: a fast, safe and portable library for reading and writing spreadsheets without a runtime dependency.",
                    ],
                ),
            ]
        ],
    },
    {
        "id": "nm-kernel-rc-zh",
        "lang": "zh",
        "kind": "rc",
        "members": [
            {
                "title": f"Linux 5.14-rc{rc} 发布",
                "paras": [
                    f"Linus Torvalds 发布了 Linux 5.14 的第 {rc} 个候选版本 5.14-rc{rc}。按照惯例，合并窗口关闭后每周发布一个候选版本，正式版预计在 rc7 或 rc8 之后推出。",
                    notes,
                    "Torvalds 在邮件中表示，目前没有发现特别令人担心的问题，希望大家继续测试并报告发现的回归问题。源代码可以从 kernel.org 下载。",
                ],
            }
            for rc, notes in [
                (
                    "1",
                    "本次合并窗口总体规模正常，新增了核心调度功能，用于缓解超线程相关的安全问题，并加入了 memfd_secret 系统调用；驱动方面新增了对树莓派 400 的支持，旧的 IDE 驱动被移除。",
                ),
                (
                    "2",
                    "与上周相比，本周的改动主要是修复：一半左右是驱动修复，涉及网络、GPU 和声音驱动，其余是架构相关的更新以及文件系统和网络子系统的小修补。",
                ),
                (
                    "3",
                    "本周的改动量略多于上一个候选版本，主要来自网络子系统的一批修复，另外还修复了 Btrfs 和 XFS 中的几个问题，以及一个影响部分 AMD 处理器的电源管理回归。",
                ),
            ]
        ],
    },
    {
        "id": "nm-python-rc-en",
        "lang": "en",
        "kind": "rc",
        "members": [
            {
                "title": f"Python 3.10.0rc{rc} is available",
                "paras": [
                    f"Python 3.10.0 is almost ready. This release, 3.10.0rc{rc}, is the {ordinal} release candidate. There will be no ABI changes from this point forward in the 3.10 series, and the goal is that there will be no code changes at all after it.",
                    "Call to action: we strongly encourage maintainers of third-party Python projects to prepare their projects for 3.10 compatibility during this phase, and to publish wheels for 3.10 on PyPI.",
                    notes,
                    "As always, report any issues to the Python bug tracker. Please keep in mind that this is a preview release and its use is not recommended for production environments.",
                ],
            }
            for rc, ordinal, notes in [
                (
                    "1",
                    "first",
                    "The next pre-release, the second release candidate, is currently scheduled for 2021-09-06, and the final release is planned for 2021-10-04.",
                ),
                (
                    "2",
                    "second and last planned",
                    "This release fixes several crashes found since the first release candidate, including a reference leak in the new pattern matching code. The final release is planned for 2021-10-04.",
                ),
            ]
        ],
    },
    {
        "id": "nm-kernel-zh",
        "lang": "zh",
        "kind": "version",
        "members": [
            {
                "title": f"Linux {version} 正式发布",
                "paras": [
                    f"Linus Torvalds 在内核邮件列表上宣布 Linux {version} 正式发布。这一版本经历了 {weeks} 周的开发周期，合并窗口随即开启，下一个版本的开发工作正式开始。",
                    features,
                    "Linux 内核是世界上规模最大的开源项目之一，每个版本都有来自数百家公司的上千名开发者参与。用户可以从 kernel.org 获取源代码，各发行版也将陆续提供新内核的软件包。",
                ],
            }
            for version, weeks, features in [
                (
                    "5.13",
                    "十",
                    "主要新特性包括：初步支持苹果 M1 芯片，新增 Landlock 安全模块，支持 Clang 控制流完整性检查，FreeSync HDMI 支持，以及一系列新的硬件驱动。",
                ),
                (
                    "5.14",
                    "九",
                    "主要新特性包括：核心调度功能正式合入，新增 memfd_secret 系统调用用于保存机密数据，移除了古老的 IDE 驱动，支持树莓派 400，并改进了对英特尔 Alder Lake 平台的支持。",
                ),
            ]
        ],
    },
    {
        "id": "nm-kernel-en",
        "lang": "en",
        "kind": "version",
        "members": [
            {
                "title": f"Linux {version} released",
                "paras": [
                    f"Linus Torvalds has released the {version} kernel after a {weeks}-week development cycle, which means that the merge window for the next release is now open.",
                    features,
                    "As usual, the kernel can be downloaded from kernel.org, and distributions will start shipping it over the coming weeks. The release was made up of well over 14,000 non-merge changesets from about 2,000 developers.",
                ],
            }
            for version, weeks, features in [
                (
                    "5.13",
                    "nine",
                    "Headline features in this release include initial support for Apple M1 systems, the Landlock security module, Clang control-flow integrity on arm64, support for FreeSync over HDMI, and the removal of several obsolete drivers.",
                ),
                (
                    "5.14",
                    "ten",
                    "Headline features in this release include core scheduling for safer simultaneous multithreading, the memfd_secret system call, burstable CFS bandwidth control, support for the Raspberry Pi 400, and the removal of the legacy IDE subsystem.",
                ),
            ]
        ],
    },
    {
        "id": "nm-deepin-zh",
        "lang": "zh",
        "kind": "version",
        "members": [
            {
                "title": f"深度操作系统 {version} 更新发布",
                "paras": [
                    f"深度操作系统 {version} 今日发布。本次更新继续以用户体验为核心，对系统的稳定性和兼容性进行了改进，欢迎用户下载体验。",
                    notes,
                    "已安装深度操作系统的用户可以通过控制中心的系统更新进行升级，也可以从官网下载新的镜像文件进行全新安装。感谢社区用户的反馈。",
                ],
            }
            for version, notes in [
                (
                    "20.2.1",
                    "本次更新升级了稳定版内核，新增了对部分笔记本指纹模块的支持；应用商店新增应用评分功能；修复了多显示器下任务栏显示异常的问题。",
                ),
                (
                    "20.2.2",
                    "本次更新新增了智能镜像源功能，系统会自动选择速度最快的软件源；浏览器升级到新版本；修复了蓝牙耳机断开后无法自动重连的问题。",
                ),
            ]
        ],
    },
    {
        "id": "nm-firefox-en",
        "lang": "en",
        "kind": "version",
        "members": [
            {
                "title": f"Firefox {version} is out",
                "paras": [
                    f"Mozilla has released Firefox {version}, the latest version of its open source web browser, for Windows, macOS, Linux and Android.",
                    notes,
                    "As usual, the update is available through the browser's built-in updater, and the release notes list the security fixes included in this version.",
                ],
            }
            for version, notes in [
                (
                    "91",
                    "The release enables an improved mode of Total Cookie Protection in private windows, brings back the simplify page option when printing, and adds support for logging in with Microsoft accounts on Windows.",
                ),
                (
                    "92",
                    "The release enables automatic upgrades to HTTPS using HTTPS DNS records, adds full-range color support for videos on macOS, and improves the handling of certificate errors.",
                ),
            ]
        ],
    },
    {
        "id": "nm-gitlab-en",
        "lang": "en",
        "kind": "version",
        "members": [
            {
                "title": f"GitLab {version} released",
                "paras": [
                    f"Today, we are excited to announce the release of GitLab {version}. This release comes with many improvements to help teams plan, build and ship software faster.",
                    notes,
                    f"These are just a few highlights of the 50+ improvements in this release. Read on to see the full list of features in GitLab {version}, and upgrade your self-managed instance when you are ready.",
                ],
            }
            for version, notes in [
                (
                    "14.0",
                    "Highlights include the new streamlined top navigation, a pipeline editor that is now available to everyone, and the removal of several deprecated features announced in previous releases.",
                ),
                (
                    "14.1",
                    "Highlights include a Helm chart registry, escalation policies for incident management, and code coverage data shown directly in merge request diffs.",
                ),
            ]
        ],
    },
    {
        "id": "nm-hot-zh",
        "lang": "zh",
        "kind": "same-title",
        "members": [
            {
                "title": "本周 GitHub 热门开源项目推荐",
                "paras": [
                    "每周我们都会从 GitHub 趋势榜中挑选几个值得关注的开源项目，供大家参考学习。以下是本周的推荐：",
                    *entries,
                    "以上项目均可以在 GitHub 上搜索到，如果你觉得有用，别忘了给作者点个 Star。",
                ],
            }
            for entries in [
                [
                    "第一个项目是一款基于浏览器的在线白板工具，支持手绘风格的图形，所有数据保存在本地，也可以实时多人协作。",
                    "第二个项目是一个命令行下的 HTTP 客户端，语法比 curl 更直观，支持 JSON 高亮和会话保存。",
                ],
                [
                    "第一个项目是一个开源的低代码平台，提供拖拽式的表单设计器和流程引擎，适合快速搭建企业内部系统。",
                    "第二个项目是一款跨平台的截图与标注工具，支持滚动截图、文字识别和贴图功能。",
                ],
                [
                    "第一个项目是一个使用 WebAssembly 在浏览器中运行 Linux 的实验项目，可以直接在网页上使用命令行。",
                    "第二个项目是一个极简的静态博客生成器，一个可执行文件即可完成构建，支持自定义主题。",
                ],
            ]
        ],
    },
    {
        "id": "nm-lwn-en",
        "lang": "en",
        "kind": "same-title",
        "members": [
            {
                "title": "Security updates for Tuesday",
                "paras": [
                    "Security updates have been issued by the following distributions. Follow the links for details of each advisory.",
                    *entries,
                    "Subscribers can get these updates by email. Please report any advisories we have missed.",
                ],
            }
            for entries in [
                [
                    "Debian has updated chromium, linux and nodejs. Fedora has updated kernel, libgcrypt and python-pillow.",
                    "openSUSE has updated curl and glibc. Red Hat has updated kernel-rt and firefox. Ubuntu has updated openssl and webkit2gtk.",
                ],
                [
                    "Debian has updated exim4, ruby2.5 and thunderbird. Fedora has updated containerd, golang and vim.",
                    "Oracle has updated nginx and postgresql. SUSE has updated the kernel and php7. Ubuntu has updated samba and tiff.",
                ],
            ]
        ],
    },
]

# Other wordings of a title, as a reposting editor writes them: same story, same numbers.
ALT_TITLES = {
    "zh-paddle": "飞桨开源 5 年：320 万开发者的选择",
    "zh-openeuler": "openEuler 首个创新版发布：支持鲲鹏、x86 和树莓派",
    "zh-tidb": "TiDB 5.0 正式发布：引入 MPP 架构，HTAP 能力再升级",
    "zh-copilot": "GitHub 联手 OpenAI 推出 Copilot：写注释就能生成代码",
    "zh-log4j": "紧急！Apache Log4j 远程代码执行漏洞，请尽快升级",
    "zh-vue": "尤雨溪宣布 Vue 3.2 发布：script setup 语法正式稳定",
    "zh-deno": "Node.js 之父创立的 Deno 公司获 2100 万美元融资",
    "zh-antirez": "antirez 不再维护 Redis，项目将由核心团队接手",
    "zh-apisix": "国人主导的 API 网关 APISIX 成为 Apache 顶级项目",
    "en-copilot": "GitHub and OpenAI launch Copilot, an AI that writes code with you",
    "en-log4shell": "Log4Shell: what you need to know about the Log4j vulnerability",
    "en-fastly": "Much of the web went dark for an hour after a Fastly bug",
    "en-pico": "Meet the $4 Raspberry Pi Pico and its RP2040 chip",
    "en-elastic": "Elasticsearch and Kibana are no longer Apache licensed",
}

# Different stories that name the same numbers and the same things as an article above: a
# tutorial about a release, a follow-up to an incident, a beta before the release.
HARD_NEGATIVES = [
    (
        "zh-python310",
        {
            "title": "Python 3.10 结构化模式匹配入门教程",
            "paras": [
                "结构化模式匹配是 Python 3.10 最重要的新语法。本文通过几个例子，介绍 match 语句的基本用法，以及它和其他语言中 switch 语句的区别。",
                "最简单的用法是匹配字面量：case 后面可以写数字或字符串，下划线表示通配。更强大的是序列模式和映射模式，可以在匹配的同时把数据中的元素绑定到变量上。",
                "类模式可以按照对象的属性进行匹配，配合 dataclass 使用尤其方便。需要注意的是，case 中的裸名称总是表示捕获，而不是与同名变量比较，这是初学者最容易犯的错误。",
            ],
        },
    ),
    (
        "zh-vue",
        {
            "title": "Vue 3.2 中 script setup 的使用体验",
            "paras": [
                "最近把一个中型项目升级到了 Vue 3.2，顺便把大部分组件改写成了 script setup 的形式，这里记录一下使用体验和遇到的坑。",
                "最直观的感受是代码量明显减少，不再需要手动返回模板中用到的变量，导入的组件也可以直接在模板中使用。defineProps 和 defineEmits 配合 TypeScript 类型推导也很顺手。",
                "不太习惯的地方是，组件默认不再暴露内部状态，父组件通过 ref 访问子组件时需要配合 defineExpose。另外，一些旧的 IDE 插件对新语法的支持还不够完善。",
            ],
        },
    ),
    (
        "zh-log4j",
        {
            "title": "Apache Log4j 漏洞应急处置指南",
            "paras": [
                "针对近期曝出的 Apache Log4j 漏洞，本文整理了一份企业应急处置的步骤，供运维和安全团队参考。",
                "第一步是资产排查：梳理所有 Java 应用，检查其依赖中是否包含 log4j-core，特别要注意打包在第三方产品和中间件中的副本。可以使用开源的扫描工具对文件系统进行批量检测。",
                "第二步是修复与缓解：能够升级的系统优先升级到官方修复版本；暂时无法升级的，按官方建议调整配置，并在边界设备上部署检测规则，同时留存日志以便事后溯源。",
            ],
        },
    ),
    (
        "zh-harmony",
        {
            "title": "华为开发者大会召开，鸿蒙开发工具全面升级",
            "paras": [
                "华为开发者大会在东莞开幕，会上华为发布了新版本的鸿蒙应用开发工具，并公布了面向开发者的扶持计划。",
                "新版开发工具支持一次开发、多端部署，提供了低代码开发能力和实时预览功能，开发者可以在同一个工程中为手机、手表和智慧屏编写界面。",
                "华为表示，将为开发者提供更多的培训课程和技术支持，并设立专项资金鼓励开发者开发原子化服务。",
            ],
        },
    ),
    (
        "en-fedora34",
        {
            "title": "Fedora 34 beta brings GNOME 40 and PipeWire",
            "paras": [
                "The Fedora Project has made the Fedora 34 beta available for testing. The beta is the last important milestone before the final release, and the project asks users to try it and report bugs.",
                "The Workstation beta includes a pre-release of GNOME 40 with its horizontal workspaces, and it is the first Fedora to route all audio through PipeWire. Testers of Bluetooth headsets and professional audio hardware are especially welcome.",
                "Known problems are listed on the common bugs page. The final release is currently expected at the end of April if no blocking bugs remain.",
            ],
        },
    ),
    (
        "en-log4shell",
        {
            "title": "Log4j gets another update as researchers find new attack paths",
            "paras": [
                "The Apache Log4j maintainers have shipped another release after researchers showed that the first fix for the widely exploited flaw was incomplete in certain non-default configurations.",
                "The new version disables message lookups entirely and removes JNDI support from the default build. Administrators who applied only the configuration workaround are urged to upgrade instead.",
                "Security teams say attackers have moved from mass scanning to targeted intrusions, including ransomware operators, and expect exploitation attempts to continue for months.",
            ],
        },
    ),
]
