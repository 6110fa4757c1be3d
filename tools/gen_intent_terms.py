#!/usr/bin/python3
"""Generate lua/intents/default_terms.csv, Axon's default intent dictionary.

Terms are real phrases and their common variants: a subject combined with
the ways people say it ("物流" + "太慢/很慢/慢死了"), English inflections
("cancel/cancelled/cancelling my subscription"). Weights: 2-3 for phrases
that state the intent outright, 1 for ordinary signals, 0.5 for weak ones.
Checked against /work/shared/data (zh_sentiment reviews, Comcast
complaints). Rows are written sorted and without duplicates; run from the
repository root:  /usr/bin/python3 tools/gen_intent_terms.py
"""
import csv
import sys

ROWS = {}   # (intent, term) -> (weight, lang)


def add(intent, weight, lang, *terms):
    for t in terms:
        t = " ".join(t.split())
        key = (intent, t.lower())
        old = ROWS.get(key)
        if old is None or old[0] < weight:
            ROWS[key] = (weight, lang, t)


def combos(*parts):
    """Every concatenation of one item from each part ("" allowed)."""
    out = [""]
    for p in parts:
        out = [a + b for a in out for b in p]
    return out


def en_combos(*parts):
    out = [""]
    for p in parts:
        out = [(a + " " + b).strip() for a in out for b in p]
    return out


def zh(intent, weight, *terms):
    add(intent, weight, "zh", *terms)


def en(intent, weight, *terms):
    add(intent, weight, "en", *terms)


# Degree words that go in front of an adjective: 太慢, 很慢, 特别慢 ...
DEG = ["", "太", "很", "好", "真", "超", "特别", "非常", "实在", "实在太", "也太", "真的太",
       "有点", "有些", "比较", "这么", "那么", "超级", "巨"]
DEG_STRONG = ["太", "很", "真", "超", "特别", "非常", "实在太", "也太", "真的太", "超级", "巨"]

# ---------------------------------------------------------------- logistics
SHIP_SUBJ = ["物流", "快递", "配送", "送货", "发货", "送餐", "外卖", "骑手", "快递员",
             "送餐员", "运输", "派送"]
# Bare mentions: weak, so a review that only says "配送很快" stays below a threshold.
zh("logistics_anxiety", 0.3, "物流", "快递", "配送", "派送", "发货", "到货", "送达",
   "物流速度", "快递速度", "配送速度", "送餐速度", "送货速度")
zh("logistics_anxiety", 2.0, *combos(SHIP_SUBJ, [d + "慢" for d in DEG]))
zh("logistics_anxiety", 2.0, *combos(SHIP_SUBJ, ["慢死了", "慢得要命", "慢得要死", "太慢了",
                                                  "慢吞吞", "速度慢", "速度太慢", "速度很慢",
                                                  "效率低", "太磨蹭"]))
zh("logistics_anxiety", 1.5, *combos(["送", "送得", "送的", "来得", "来的", "到得", "到的"],
                                     ["太慢", "很慢", "好慢", "真慢", "超慢", "太晚", "很晚",
                                      "这么慢", "这么晚", "慢死了"]))
zh("logistics_anxiety", 2.0, "送餐太慢", "送餐时间太长", "送餐时间长", "送餐时间略长",
   "配送时间太长", "配送时间长", "送货时间长", "等待时间太长", "等待时间长", "到货时间长")
WHEN = ["什么时候", "啥时候", "几时", "何时", "多久", "什么时间"]
zh("logistics_anxiety", 2.0, *combos(WHEN, ["能到", "到", "才能到", "才到", "送到", "能送到",
                                            "发货", "能发货", "才发货", "到货", "能到货",
                                            "送过来", "能送来"]))
zh("logistics_anxiety", 2.0, *combos(["还没", "一直没", "迟迟没", "怎么还没", "到现在还没",
                                      "至今没", "至今还没", "都还没", "还是没"],
                                     ["到", "收到", "送到", "发货", "送来", "到货", "送过来",
                                      "派送", "揽收"]))
zh("logistics_anxiety", 2.0, "再不到", "再不送到", "再不发货", "怎么还不到", "怎么还不发货",
   "还不发货", "迟迟不发货", "迟迟不到", "一直不发货", "一直不到", "就是不到")
WAIT_N = ["一个小时", "两个小时", "三个小时", "一个多小时", "两个多小时", "半个小时",
          "四十分钟", "五十分钟", "一个半小时", "半天", "好久", "很久", "一天", "两天", "三天",
          "一周", "一个星期", "两个星期", "半个月", "一个月", "快一个小时", "将近一个小时",
          "将近两个小时", "将近三个小时", "1个小时", "2个小时", "3个小时", "1个多小时",
          "2个多小时"]
zh("logistics_anxiety", 1.5, *combos(["等了", "足足等了", "整整等了", "等了快", "等了将近",
                                      "等了差不多"], WAIT_N))
zh("logistics_anxiety", 2.0, *combos(["晚了", "晚到", "迟到", "晚送"],
                                     ["一个小时", "两个小时", "半个小时", "一个多小时",
                                      "四十分钟", "半小时", "很久", "好久", "1个小时",
                                      "40分钟", "30分钟", "一天", "两天", "三天"]))
zh("logistics_anxiety", 2.0, *combos(["物流", "快递", "物流信息", "快递信息"],
                                     ["不更新", "没更新", "一直不更新", "停滞", "查不到",
                                      "没动静", "一直没动", "显示异常", "一直没变", "不动了"]))
zh("logistics_anxiety", 2.0, *combos(["快递", "包裹", "货", "件"], ["丢了", "丢失", "弄丢了",
                                                                  "被退回", "送错地方",
                                                                  "被签收", "被别人签收"]))
zh("logistics_anxiety", 2.0, "丢件", "派送失败", "配送失败", "配送超时", "送达超时", "送餐超时",
   "超时送达", "严重超时", "超时了", "卡在中转站", "卡在转运中心", "滞留", "包裹滞留",
   "没人送", "无人配送", "没人接单", "迟迟没人接单", "提前点了送达", "显示已送达",
   "显示已签收", "没收到货", "没有收到货", "没收到餐", "没有收到", "没送到", "未送达",
   "到了都不饿了", "饭都凉了", "送来都凉了", "送到都凉了", "送到的时候都凉了", "送来的时候都凉了",
   "送来已经凉了", "送到已经凉了", "跑了好几趟", "催了好几次", "催了几次", "催了半天",
   "催了三次", "催了两次", "催单", "催单没用", "催单也没用", "催了也没用", "打电话催",
   "打电话也不接", "送货员不接电话", "骑手不接电话", "不送上楼", "放门口就走了",
   "让我自己去取", "自己去取", "不给送", "送错了", "送错地址", "地址送错",
   "物流太差", "物流很差", "快递太差", "快递很差", "物流差", "快递差", "物流垃圾",
   "快递垃圾", "物流不给力", "快递不给力", "配送不给力", "物流真是", "这物流", "这快递")
zh("logistics_anxiety", 1.0, "延误", "延迟", "物流延迟", "物流延误", "快递延误", "配送延误",
   "运输延误", "到货延迟", "发货延迟", "延迟发货", "延期发货", "晚到", "送晚了", "来晚了",
   "太晚了", "迟了", "送得晚", "物流单号", "快递单号", "运单号", "查物流", "查快递", "物流跟踪", "在路上", "正在派送",
   "还在路上", "预计送达", "预计到达", "到哪了", "到哪儿了", "走到哪了", "加急发货", "尽快发货",
   "赶紧发货", "快点发货", "快点送", "能不能快点", "尽快送达", "催一下", "帮忙催一下")
zh("logistics_anxiety", 0.3, "送餐", "送货", "运费", "包邮", "顺丰", "圆通", "中通", "申通",
   "韵达", "邮政", "EMS", "京东物流", "骑手", "快递员", "送餐员", "送货员")

SHIP_EN = ["shipping", "delivery", "shipment", "package", "parcel", "order", "courier"]
en("logistics_anxiety", 0.3, "shipping", "delivery", "shipment", "courier")
en("logistics_anxiety", 1.0, "tracking number", "tracking info",
   "tracking information", "in transit", "out for delivery",
   "estimated delivery", "delivery date", "shipping status", "delivery status",
   "shipping update", "shipping time", "delivery time")
en("logistics_anxiety", 2.0, *en_combos(["where is my", "where's my", "still waiting for my",
                                         "still waiting on my", "haven't received my",
                                         "have not received my", "never received my",
                                         "did not receive my", "didn't receive my",
                                         "still no sign of my", "what happened to my"],
                                        ["order", "package", "parcel", "shipment",
                                         "delivery", "item", "items", "refund check"]))
en("logistics_anxiety", 2.0, *en_combos(SHIP_EN, ["is late", "was late", "is delayed",
                                                  "was delayed", "is lost", "was lost",
                                                  "got lost", "is stuck", "never arrived",
                                                  "hasn't arrived", "has not arrived",
                                                  "still not arrived", "is taking forever",
                                                  "takes forever", "took forever",
                                                  "is so slow", "too slow", "so slow",
                                                  "very slow", "keeps getting delayed"]))
en("logistics_anxiety", 2.0, *en_combos(["late", "delayed", "lost", "missing", "slow",
                                         "damaged"], ["delivery", "deliveries", "shipment",
                                                      "shipments", "package", "packages",
                                                      "parcel", "shipping"]))
en("logistics_anxiety", 2.0, "when will it arrive", "when will my order arrive",
   "when will it ship", "when will my order ship", "when will i get my",
   "when will i receive", "when is it going to arrive", "when can i expect",
   "how long will it take", "how long does shipping take", "still hasn't shipped",
   "hasn't shipped yet", "has not shipped", "not shipped yet", "still not shipped",
   "tracking hasn't updated", "tracking has not updated", "tracking not updated",
   "tracking not updating", "tracking number doesn't work", "no tracking",
   "no tracking information", "marked as delivered", "says delivered", "shows delivered",
   "delivered to the wrong address", "wrong address", "left at the door",
   "delivery window", "missed delivery", "missed the delivery", "failed delivery",
   "delivery attempt", "stuck in customs", "held at customs", "lost in transit",
   "lost in the mail", "lost package", "package never came")
en("logistics_anxiety", 1.5, "expedite", "expedited shipping", "rush delivery", "asap delivery",
   "overnight shipping", "track my order", "track my package", "delayed",
   "shipping delay", "shipping delays", "delivery delay", "delivery delays",
   "backordered", "back ordered", "back-ordered")

# ---------------------------------------------------------------- price
PRICE_SUBJ = ["价格", "价钱", "售价", "报价", "费用", "收费", "运费", "配送费", "包装费",
              "餐盒费", "东西", "菜价", "定价", "单价", "月费", "年费", "服务费"]
zh("price_sensitive", 2.0, *combos(PRICE_SUBJ, ["太贵", "太高", "偏高", "偏贵", "有点贵",
                                                 "有点高", "太贵了", "太高了", "不便宜",
                                                 "贵得离谱", "高得离谱", "太离谱", "贵了",
                                                 "高了", "比较贵", "比较高", "挺贵", "挺高",
                                                 "很贵", "很高", "虚高", "不合理"]))
zh("price_sensitive", 2.0, *combos(["太", "也太", "真的太", "实在太", "有点", "略", "稍微",
                                    "死", "巨", "超", "特别", "非常", "有些"], ["贵"]))
zh("price_sensitive", 2.5, "性价比低", "性价比不高", "性价比太低", "性价比很低", "性价比不行",
   "性价比一般", "不值这个价", "不值这个钱", "不值得这个价", "不值", "不划算", "太不划算",
   "很不划算", "不太划算", "亏了", "买贵了", "被宰", "宰人", "坑钱", "太坑了", "价格坑",
   "贵得要死", "贵死了", "价格不实惠", "不实惠", "不太实惠", "买不起", "消费不起",
   "吃不起", "用不起", "超预算", "超出预算", "预算不够", "预算有限", "预算紧张",
   "预算只有", "没有预算", "价格没优势", "价格没有优势", "价格不占优势", "没有价格优势",
   "比别家贵", "比别人贵", "比别的店贵", "比其他家贵", "比实体店贵", "比超市贵",
   "比外面贵", "比店里贵", "比以前贵", "比上次贵", "别家更便宜", "别家便宜",
   "别的地方便宜", "其他家更便宜", "人家更便宜", "网上更便宜", "同样的价格",
   "同样的东西", "这个价格", "这个价钱", "这价格", "这价钱", "就这价", "这个价位",
   "价格还能低吗", "能便宜点吗", "能不能便宜点", "能不能便宜一点", "便宜点", "便宜一点",
   "再便宜点", "再便宜一点", "打个折", "打折吗", "能打折吗",
   "有没有折扣", "有折扣吗", "有优惠吗", "有没有优惠", "还有优惠吗", "能优惠吗",
   "能不能优惠", "优惠一点", "优惠点", "给个优惠", "让点利", "让利", "降点价",
   "能降价吗", "降价了", "买完就降价", "刚买就降价", "一买就降价", "买了就降价",
   "降价太快", "价格保护", "保价", "补差价", "退差价", "差价", "涨价", "又涨价了",
   "涨价了", "价格上涨", "提价", "变相涨价", "偷偷涨价", "先涨后降", "先提价再打折",
   "提价再打折", "价格战", "最低价", "最低价格", "底价", "最优惠的价格", "最好的价格",
   "批发价", "团购价", "成本价", "比价", "货比三家", "量少价高", "分量少价格高",
   "价格不透明", "乱收费", "收费太高", "价格虚高", "价格太坑")
zh("price_sensitive", 1.0, "价格", "价钱", "报价", "优惠", "折扣", "打折", "便宜", "性价比", "划算",
   "优惠券", "满减", "立减", "减免", "活动价", "原价", "特价", "促销", "降价", "折扣价",
   "预算", "价位")
zh("price_sensitive", 0.5, "实惠", "红包", "成本", "省钱", "价格不错", "价格便宜", "价格实惠",
   "价格合理", "价格公道", "物美价廉", "物有所值", "值这个价")
en("price_sensitive", 2.5, "too expensive", "way too expensive", "so expensive",
   "very expensive", "overpriced", "over priced", "over-priced", "overpricing",
   "unfair pricing", "price gouging", "ripoff", "rip off", "rip-off", "not worth the money",
   "not worth the price", "not worth it", "waste of money", "can't afford", "cannot afford",
   "can not afford", "too pricey", "too costly", "costs too much", "cost too much",
   "charge too much", "charging too much", "out of my budget", "over budget",
   "over our budget", "beyond our budget", "tight budget", "limited budget",
   "cheaper elsewhere", "cheaper alternative", "cheaper option", "cheaper plan",
   "cheaper price", "better price", "better deal", "better rate", "lower price",
   "lower rate", "lower my bill", "lower the price", "reduce my bill", "reduce the price",
   "price match", "price-match", "match the price", "any discount", "any discounts",
   "give me a discount", "offer a discount", "can you do better on price",
   "competitive price", "competitive pricing", "price is too high",
   "prices are too high", "rates are too high", "bill is too high", "bill too high",
   "high prices", "high price", "high rates", "outrageous prices", "outrageous price",
   "hidden fees", "hidden fee", "hidden charges", "hidden cost", "hidden costs",
   "price hike", "price hikes", "rate hike", "rate hikes", "rate increase",
   "rate increases", "price increase", "price increases", "promotional rate",
   "promo rate", "promotion expired", "promotional price", "promotional pricing",
   "introductory rate", "bait and switch", "bait-and-switch")
en("price_sensitive", 2.0, *en_combos(["raise", "raised", "raises", "raising", "increase",
                                       "increased", "increases", "increasing", "hike",
                                       "hiked", "hiking", "jacked up", "doubled", "keeps raising",
                                       "keep raising"],
                                      ["price", "prices", "rate", "rates", "my bill",
                                       "the bill", "my rate", "the price", "the prices",
                                       "pricing", "fees", "my price"]))
en("price_sensitive", 1.0, "price", "prices", "pricing", "expensive", "discount",
   "discounts", "coupon", "promo code", "promotion", "budget", "cheaper", "affordable",
   "afford", "value for money", "fee", "fees", "too high")
en("price_sensitive", 0.5, "cost", "costs", "quote", "quotation", "rate", "rates")

# ---------------------------------------------------------------- delivery risk (B2B)
zh("delivery_risk", 2.5, "交期", "交货期", "交付期", "交期延误", "交期延迟", "交期推迟",
   "交货延迟", "交货延期", "交付延期", "交付延迟", "延期交货", "延迟交货", "延期交付",
   "推迟交货", "推迟交付", "无法按时交货", "无法按时交付", "不能按时交货", "不能按时交付",
   "不能按期交付", "无法按期交付", "按时交货", "按时交付", "按期交付", "准时交付",
   "准时交货", "如期交付", "如期交货", "确保交期", "保证交期", "承诺交期", "交期承诺",
   "交期紧", "交期很紧", "交期太紧", "交期太长", "交期多久", "交期能提前吗", "赶交期",
   "赶工期", "工期", "工期延误", "工期紧", "工期太紧", "项目延期", "项目延误",
   "项目进度", "进度滞后", "进度落后", "进度延误", "里程碑", "上线延期", "上线推迟",
   "验收延期", "交付风险", "交付节点", "交付时间", "交货时间", "到货时间", "供货周期",
   "生产周期", "备货周期", "采购周期", "缺货", "断货", "没货", "无货", "暂时缺货",
   "库存不足", "库存紧张", "库存告急", "没有库存", "库存不够", "现货不足", "货源紧张",
   "供应紧张", "供货紧张", "供货不足", "供应不足", "供应短缺", "原材料短缺",
   "原料短缺", "芯片短缺", "缺料", "停产", "减产", "限产", "产能不足", "产能紧张",
   "产能跟不上", "排产", "排期", "排不上", "排队生产", "生产延误", "生产延迟", "停工",
   "停工停产", "供应链", "供应链中断", "断供", "停止供货", "暂停供货", "无法供货",
   "供货承诺", "供应承诺", "先解决供货",
   "耽误工期", "耽误生产", "影响生产", "影响进度", "影响交付", "影响上线", "停线",
   "产线停了", "要停线了", "违约金", "延期罚款", "逾期交货", "逾期交付",
   "分批交货", "分批发货", "部分发货", "先发一部分", "补货", "什么时候补货",
   "什么时候有货", "多久有货", "预计到货", "预计交期", "最快什么时候", "最快多久",
   "最早什么时候", "能不能提前", "提前交货", "提前交付")
zh("delivery_risk", 1.0, "赶不上", "来不及", "等不了", "等不起", "逾期", "供应链", "排产",
   "排期", "里程碑", "项目进度", "交付", "交货")
en("delivery_risk", 1.0, "deadline", "deadlines", "at risk", "allocation", "milestone",
   "milestones", "supply chain", "backlog", "shortage", "shortages")
en("delivery_risk", 2.5, "lead time", "lead times", "long lead time", "delivery deadline",
   "miss the deadline", "missed the deadline", "missing the deadline",
   "meet the deadline", "can't meet the deadline", "behind schedule", "falling behind",
   "fell behind", "schedule slip", "schedule slipped", "slipped schedule", "project delay",
   "project delays", "project delayed", "go-live", "go live date", "launch date",
   "delayed launch", "on-time delivery", "on time delivery",
   "deliver on time", "delivered on time", "ship on time", "late delivery",
   "delivery commitment", "delivery commitments", "supply commitment", "commit to a date",
   "committed date", "out of stock", "out-of-stock", "stockout", "stock-out", "no stock",
   "low stock", "short supply", "supply shortage",
   "chip shortage", "parts shortage", "component shortage",
   "supply chain issues", "supply chain disruption", "capacity constraints",
   "production delay", "production delays", "manufacturing delay",
   "backorder", "partial shipment", "partial delivery",
   "penalty clause", "late penalty", "liquidated damages", "cannot deliver",
   "can't deliver", "unable to deliver", "won't make it in time", "not in time",
   "too late for", "critical path")
en("delivery_risk", 2.0, *en_combos(["delivery", "shipment", "project", "launch", "rollout",
                                     "installation", "order", "release"],
                                    ["delayed", "postponed", "pushed back", "slipped",
                                     "at risk", "behind schedule", "rescheduled"]))

# ---------------------------------------------------------------- compliance
zh("compliance_concern", 2.5, "合规", "合规性", "合规风险", "合规审查", "合规要求", "不合规",
   "违规", "合法合规", "监管", "监管要求", "监管部门", "法律风险", "法律责任", "法务",
   "法务审核", "法务部", "法律顾问", "合同条款", "合同审核", "合同风险", "霸王条款",
   "免责条款", "保密协议", "保密条款", "签保密协议", "知识产权", "侵权", "专利",
   "版权", "商标", "盗版", "数据安全", "信息安全", "网络安全", "隐私", "隐私政策",
   "隐私泄露", "个人信息", "个人信息保护", "个人信息保护法", "泄露个人信息", "信息泄露",
   "数据泄露", "泄露隐私", "数据出境", "跨境传输", "数据本地化", "等保", "等级保护",
   "等保三级", "等保二级", "安全审计", "审计", "内审", "外审", "审计报告", "合规证明",
   "资质", "资质证书", "资质审核", "营业执照", "经营许可证", "生产许可证", "许可证",
   "认证", "ISO认证", "ISO9001", "ISO27001", "CE认证", "3C认证", "CCC认证", "检测报告",
   "质检报告", "合格证", "检验报告", "原产地证明", "报关", "海关", "出口管制",
   "制裁", "反洗钱", "反腐", "反贿赂", "回扣", "商业贿赂", "利益冲突", "招投标",
   "招标", "投标", "采购流程", "采购合规", "供应商准入", "供应商审核", "尽职调查",
   "背景调查", "增值税专用发票", "专用发票", "开专票", "专票", "普票", "开票",
   "开发票", "发票抬头", "税号", "纳税人识别号", "税务", "税务风险", "税率", "报税",
   "对公转账", "公对公", "盖章", "公章", "合同章", "电子签章", "签字盖章", "双章",
   "合同原件", "留痕", "存档", "可追溯", "SOC 2", "SOC2", "HIPAA", "GDPR", "PCI DSS",
   "ROHS", "REACH", "食品安全", "食品安全问题", "卫生许可证", "健康证", "卫生问题",
   "不卫生", "食品卫生", "过敏原", "添加剂", "三无产品", "虚假宣传", "虚假广告",
   "夸大宣传", "消费者权益", "消协", "工商局", "市场监管局", "12315", "举报", "起诉",
   "律师函", "报警", "维权")
en("compliance_concern", 2.5, "compliance", "compliant", "non-compliant", "noncompliant",
   "non compliance", "regulatory", "regulation", "regulations", "regulator",
   "legal review", "legal team", "legal department", "our lawyers", "my lawyer",
   "attorney", "attorney general", "lawsuit", "sue", "sued", "suing", "class action",
   "legal action", "contract terms", "terms and conditions", "terms of service",
   "fine print", "breach of contract", "in breach", "liability", "indemnity",
   "indemnification", "nda", "non-disclosure agreement", "confidentiality",
   "confidential", "data protection", "data privacy", "privacy", "privacy policy",
   "privacy violation", "privacy breach", "data breach", "security breach", "leaked",
   "personal data", "personal information", "pii", "gdpr", "ccpa", "hipaa", "sox",
   "soc 2", "soc2", "iso 27001", "iso 9001", "pci", "pci dss", "audit", "audits",
   "auditor", "auditors", "audit trail", "due diligence", "certification",
   "certificate", "certified", "accreditation", "license", "licence", "licensing",
   "permit", "sanctions", "export control", "export controls", "anti-bribery",
   "anti-corruption", "kickback", "kickbacks", "conflict of interest", "procurement policy",
   "vendor assessment", "security questionnaire", "data residency", "data retention",
   "right to be forgotten", "consent", "without my consent", "without my permission",
   "without authorization", "unauthorized", "fcc", "ftc", "bbb",
   "better business bureau", "consumer protection", "false advertising",
   "deceptive advertising", "deceptive practices", "deceptive", "misleading",
   "fraud", "fraudulent", "fradulent", "illegal", "unlawful", "violation",
   "violations", "monopoly", "antitrust", "net neutrality", "file a complaint with",
   "report to the fcc", "filed with the fcc", "vat invoice", "tax invoice", "w-9",
   "tax id")

# ---------------------------------------------------------------- dissatisfied
zh("dissatisfied", 2.5, *combos(["很", "非常", "特别", "十分", "极其", "太", "相当", "超级",
                                 "真的", "真的很", "实在", ""], ["不满意", "失望", "差劲", "糟糕",
                                                                "恶心", "无语", "生气",
                                                                "气愤", "愤怒", "郁闷"]))
zh("dissatisfied", 2.5, *combos(["很", "非常", "特别", "极其", "太", "超级", "真", "真的太",
                                 "实在太"], ["坑", "烂", "差"]))
zh("dissatisfied", 2.5, "差评", "给差评", "给个差评", "必须差评", "果断差评", "一星差评",
   "给一星", "只给一星", "一颗星", "零分", "负分", "不满意", "不太满意", "不怎么满意", "很不满", "不满",
   "太失望了", "非常失望", "很失望", "失望透顶", "大失望", "让人失望", "令人失望",
   "体验很差", "体验太差", "体验极差", "最差的体验", "最差的一次", "最差的", "太差了",
   "太差", "很差", "极差", "超差", "差差差", "差得要命", "差到极点", "垃圾", "太垃圾",
   "垃圾产品", "垃圾东西", "垃圾服务", "垃圾商家", "垃圾店", "什么玩意", "什么破",
   "破东西", "坑人", "坑爹", "太坑", "骗人", "骗子", "被骗", "上当", "上当受骗",
   "黑心", "无良", "奸商", "不靠谱", "太不靠谱", "很不靠谱", "不负责任", "没有责任心",
   "敷衍", "敷衍了事", "推卸责任", "互相推诿", "踢皮球", "没人管", "没人理",
   "不理人", "爱答不理", "态度差", "态度很差", "态度太差", "态度恶劣", "态度极差",
   "服务态度差", "服务态度很差", "服务态度不好", "服务差", "服务太差", "服务很差",
   "服务不好", "客服态度差", "客服不理", "客服不回复", "客服太差", "服务质量差",
   "再也不买了", "再也不买", "再也不来了", "再也不会来", "再也不会买", "再也不点了",
   "再也不订了", "再也不定了", "不会再买", "不会再点", "不会再来", "不会再订",
   "不会再光顾", "以后不买了", "以后不点了", "以后不订了", "以后不来了", "以后再也不",
   "拉黑", "拉黑了", "避雷", "大家避雷", "别买", "千万别买", "大家别买", "不要买",
   "不推荐", "不建议购买", "劝大家", "后悔", "很后悔", "后悔买了", "后悔死了",
   "浪费钱", "浪费时间", "白花钱", "气死了", "气死我了", "被气死", "太气人", "服了",
   "醉了", "我也是醉了", "呵呵", "呵呵了", "无语了", "真无语", "太无语", "受不了",
   "忍不了", "不能忍", "太过分", "太过分了", "过分", "岂有此理", "欺负人", "不尊重",
   "投诉", "要投诉", "我要投诉", "投诉你们", "已投诉", "差劲", "太差劲", "真差劲",
   "难吃", "太难吃", "很难吃", "好难吃", "真难吃", "超难吃", "难吃死了", "难喝",
   "太难喝", "很难喝", "不好吃", "不好喝", "一点都不好吃", "味道很一般", "味道一般",
   "味道不行", "味道不好", "味道怪", "味道很怪", "有怪味", "太咸", "太咸了", "太淡",
   "太辣", "太油", "太油腻", "油腻", "没熟", "夹生", "凉了", "都凉了", "是凉的",
   "量太少", "分量少", "分量太少", "量少", "太少了", "少得可怜", "就那么一点",
   "缩水", "货不对板", "与描述不符", "和描述不符", "跟图片不符", "和图片不一样",
   "图片仅供参考", "名不副实", "徒有虚名", "言过其实", "不值得", "不像宣传的",
   "一般般", "不怎么样", "不咋地", "不咋样", "太一般", "很一般", "非常一般",
   "还不如", "不如以前", "大不如前", "越来越差", "一次比一次差", "水平下降",
   "退钱", "把钱退了", "钱也不退", "不给退", "拒绝退款", "不给处理", "没有解决",
   "一直没解决", "问题没解决", "还是没解决")
en("dissatisfied", 2.5, "unsatisfactory", "false advertisement", "not getting what i am paying for",
   "not getting what i pay for", "unbelievable treatment")
en("dissatisfied", 2.5, "not satisfied", "unsatisfied", "dissatisfied", "very dissatisfied",
   "extremely dissatisfied", "not happy", "unhappy", "very unhappy", "disappointed",
   "very disappointed", "extremely disappointed", "so disappointed", "disappointing",
   "frustrated", "frustrating", "very frustrated", "extremely frustrated", "fed up",
   "sick and tired", "angry", "furious", "upset", "annoyed", "outraged", "unacceptable",
   "completely unacceptable", "ridiculous", "absurd", "terrible", "horrible", "awful",
   "worst", "the worst", "worst service", "worst customer service", "worst company",
   "worst experience", "poor service", "poor customer service", "bad service",
   "bad customer service", "terrible service", "horrible service", "awful service",
   "terrible customer service", "horrible customer service", "lousy service",
   "poor quality service", "substandard service", "rude", "rude staff", "rude agent",
   "rude representative", "rude customer service", "unprofessional", "incompetent",
   "incompetence", "negligence", "negligent", "careless", "useless", "pathetic",
   "disgusting", "disgraceful", "shameful", "garbage", "trash", "junk", "scam",
   "scammed", "ripped off", "lied to", "lies", "lying", "dishonest", "misled",
   "deceived", "cheated", "robbery", "broken promises", "broken promise", "false promises",
   "never again", "never buy again", "never use again", "would not recommend",
   "wouldn't recommend", "do not recommend", "don't recommend", "not recommend",
   "stay away", "avoid this", "one star", "1 star", "zero stars", "complaint",
   "complaints", "complain", "complaining", "file a complaint", "filing a complaint",
   "escalate", "escalated", "escalation", "speak to a manager", "speak to a supervisor",
   "talk to a supervisor", "no one helps", "nobody helps", "no one cares",
   "nobody cares", "no response", "no reply", "never called back", "never call back",
   "didn't call back", "on hold for hours", "on hold for an hour", "kept on hold",
   "hung up on me", "run around", "runaround", "the runaround", "getting the runaround",
   "passed around", "transferred multiple times", "unresolved", "not resolved",
   "still not resolved", "never resolved", "still not fixed", "not fixed",
   "problem persists", "ongoing issue", "ongoing issues", "ongoing problem",
   "ongoing problems", "for months", "for weeks", "repeated problems",
   "repeated issues", "poor communication", "lack of communication", "no communication",
   "ignored", "ignoring", "refuse to help", "refused to help", "refuses to help",
   "refusal", "refused")

# ---------------------------------------------------------------- churn
CANCEL_V = ["cancel", "cancelled", "canceled", "cancelling", "canceling", "cancels",
            "want to cancel", "going to cancel", "will cancel", "have to cancel",
            "need to cancel", "trying to cancel", "tried to cancel", "asked to cancel",
            "requested to cancel", "wish to cancel", "would like to cancel",
            "terminate", "terminated", "terminating", "want to terminate",
            "discontinue", "discontinued", "discontinuing"]
CANCEL_O = ["my subscription", "the subscription", "subscription", "my account",
            "the account", "my service", "the service", "service", "services",
            "my services", "my order", "the order", "my contract", "the contract",
            "my plan", "the plan", "my membership", "my internet", "my cable",
            "my phone service", "my comcast", "comcast", "xfinity", "my xfinity"]
en("churn_risk", 2.5, *en_combos(CANCEL_V, CANCEL_O))
en("churn_risk", 2.5, *en_combos(["close", "closed", "closing", "want to close", "shut down"],
                                 ["my account", "the account", "our account", "my accounts"]))
en("churn_risk", 2.5, *en_combos(["end", "ended", "ending", "stop", "stopped", "stopping"],
                                 ["my subscription", "the subscription", "my service",
                                  "my contract", "the contract", "my membership"]))
en("churn_risk", 2.5, *en_combos(["drop", "dropped", "dropping", "ditch", "ditched", "ditching",
                                  "dump", "dumped", "dumping"],
                                 ["comcast", "xfinity", "my subscription", "my plan", "my cable",
                                  "my provider", "you", "you guys", "your service",
                                  "your company"]))
en("churn_risk", 1.0, "customer for years", "loyal customer", "long time customer",
   "longtime customer", "years of service", "disconnect", "competitor", "competitors",
   "competition")
en("churn_risk", 2.5, "cancellation", "cancellation request", "cancellation fee",
   "cancellation fees", "early termination fee", "early termination fees", "etf",
   "termination fee", "termination fees", "unsubscribe", "unsubscribed", "opt out",
   "switch providers", "switching providers", "switch provider", "switched providers",
   "switch to another provider", "switching to another provider", "switching to",
   "switch to", "switched to", "moving to", "move to another provider",
   "going with another", "go with another company", "another provider",
   "different provider", "other provider", "other providers", "leave comcast", "leaving comcast", "left comcast",
   "leaving", "take my business elsewhere", "taking my business elsewhere",
   "take our business elsewhere", "find another", "look elsewhere",
   "looking elsewhere", "looking for alternatives", "looking at alternatives",
   "considering alternatives", "shopping around", "not renewing", "won't renew",
   "will not renew", "not going to renew", "do not renew", "don't renew",
   "non-renewal", "not renew", "refuse to renew", "end our contract",
   "end the contract", "end my contract", "terminate the agreement",
   "return the equipment", "returned the equipment", "return equipment",
   "disconnected my service", "disconnect my service",
   "disconnect service", "port my number", "porting my number", "port out",
   "close my account", "delete my account", "account closure", "refund and cancel",
   "want my money back", "i want out", "last straw", "had enough", "done with",
   "i'm done", "i am done", "fire you", "firing you", "no longer need",
   "no longer want", "no longer use", "stop using", "stopped using", "quit using",
   "never use you again", "lose a customer", "lost a customer", "losing a customer",
   "retention", "retention department")
zh("churn_risk", 1.0, "取消", "取消了", "卸载", "已卸载", "删了", "另选", "另找", "最后一次",
   "竞争对手", "竞品")
zh("churn_risk", 2.5, "取消订单", "申请取消", "要求取消", "想取消",
   "要取消", "我要取消", "就取消", "取消吧", "取消服务", "取消订阅", "取消合作",
   "取消合同", "取消会员", "取消续费", "取消自动续费", "关闭自动续费", "退订", "退订服务",
   "退掉", "退了吧", "不要了", "我不要了", "不想要了", "不买了", "不订了", "不点了",
   "不续费", "不再续费", "不续了", "不续约", "不再续约", "到期不续", "到期就不续了",
   "解约", "解除合同", "解除合作", "终止合同", "终止合作", "终止服务", "停止合作",
   "暂停合作", "结束合作", "中止合作", "注销", "注销账号", "注销账户", "销户",
   "申请销户", "退会员", "退卡", "携号转网", "转网", "换一家", "换家", "换别家",
   "换个供应商", "换供应商", "更换供应商", "换服务商", "换平台", "换个平台",
   "换别的", "换其他", "去别家", "找别家", "找别人", "找其他供应商", "考虑其他供应商",
   "考虑别家", "考虑换", "打算换", "准备换", "想换", "不合作了", "不再合作",
   "以后不合作", "不再使用", "不再购买", "不再用", "不用了", "最后一次买",
   "最后一次点", "最后一次合作", "再也不用", "永远不用", "不会再用", "流失",
   "客户流失", "退货退款", "全部退货", "整单退", "退单", "拒收", "拒签", "弃单")

# ---------------------------------------------------------------- billing
CHARGE_V = ["charged", "billed", "overcharged", "incorrectly charged", "wrongly charged",
            "wrongfully charged", "unfairly charged", "still charged", "still being charged",
            "keep getting charged", "being charged", "got charged", "was charged",
            "were charged", "charging me", "billing me", "charged me", "billed me"]
CHARGE_O = ["for equipment", "for a modem", "for service", "for services",
            "for the service", "for equipment i returned", "for returned equipment",
            "after cancelling", "after canceling", "after cancellation", "after i cancelled",
            "after i canceled", "without notice", "without permission", "without my consent",
            "a late fee", "late fees", "twice", "again", "for months", "for a service i don't have",
            "for channels", "for services i didn't order", "for services not received"]
en("billing_issue", 2.5, *en_combos(CHARGE_V, CHARGE_O))
en("billing_issue", 2.5, "double charged", "double-charged", "charged twice", "billed twice",
   "charged two times", "billed two times")
en("billing_issue", 2.5, *CHARGE_V)
en("billing_issue", 2.5, "billing", "billing issue", "billing issues", "billing problem",
   "billing problems", "billing error", "billing errors", "billing dispute",
   "billing practices", "billing department", "billing mistake", "billing inquiry",
   "incorrect bill", "incorrect billing",
   "wrong bill", "bill is wrong", "bill issues", "bill dispute", "false billing",
   "improper billing", "fraudulent billing", "fraudulent charges", "fraudulent charge",
   "unauthorized charge", "unauthorized charges", "unexpected charge",
   "unexpected charges", "extra charge", "extra charges", "additional charges",
   "excessive charges", "excessive fees", "late fee", "late fees", "late charge",
   "service fee", "service fees", "equipment fee", "equipment fees", "rental fee",
   "modem rental", "modem fee", "activation fee", "installation fee", "usage fee",
   "overage", "overage charges", "overage fees", "data overage", "data cap",
   "data caps", "usage cap", "usage caps", "usage meter", "double billing",
   "duplicate charge", "duplicate charges", "double charge", "charge twice",
   "refund", "refunds", "refund request", "request a refund", "requested a refund",
   "issue a refund", "get a refund", "no refund", "never refunded", "not refunded",
   "still no refund", "waiting for a refund", "refund not received", "billing credit", "account credit", "promised credit", "credit not applied",
   "credit never applied", "never received credit", "chargeback", "dispute the charge",
   "disputed the charge", "payment not posted",
   "payment not applied", "payment disappeared", "payment disappear",
   "payment issue", "payment issues", "payment problem", "payment failed",
   "failed payment", "autopay", "auto pay", "auto-pay", "automatic payment",
   "auto renewal", "auto-renewal", "automatically renewed", "debited",
   "deducted", "collections", "sent to collections", "collection agency",
   "credit report", "credit score", "past due", "overdue", "invoice error",
   "wrong invoice", "incorrect invoice", "prorated", "pro-rated")
en("billing_issue", 2.5, "overcharge", "overcharges", "overcharging me", "over the limit",
   "over my limit", "keeps charging", "charging me", "data usage", "usage charges")
en("billing_issue", 1.0, "credit", "credits", "balance", "statement", "payment", "payments",
   "invoice", "invoices", "charge", "charges", "bill", "bills", "my bill", "monthly bill")
zh("billing_issue", 2.5, "扣费", "乱扣费", "重复扣费", "多扣费", "扣费错误", "莫名扣费",
   "自动扣费", "无故扣费", "多扣", "多扣了", "多扣钱", "多扣了钱", "扣了两次", "扣两次",
   "重复扣款", "重复付款", "付了两次", "多付了", "多收", "多收了", "多收钱", "多收费",
   "乱收费", "收费错误", "收费不对", "收费有误", "账单", "账单有误", "账单错误",
   "账单不对", "对账", "对账单", "发票开错", "发票有误", "发票错了", "发票金额不对",
   "发票少开", "发票没开", "没给发票", "不给发票", "不开发票", "补开发票", "重开发票",
   "退款", "申请退款", "要求退款", "退款申请", "退款没到账", "退款还没到", "没退款",
   "还没退款", "一直没退款", "不退款", "退款慢", "退款太慢", "退款失败", "钱没退",
   "钱还没退", "没有退钱", "不退钱", "钱也没退", "退钱", "退费", "退押金", "押金不退",
   "没到账", "未到账", "付款失败", "支付失败", "支付不了", "付不了款",
   "扣款", "扣款失败", "自动续费", "被自动续费", "续费扣款", "订阅扣费", "会员扣费",
   "余额不对", "充值不到账", "充值失败", "优惠没减", "立减没减", "满减没减", "红包没用上",
   "优惠券没用上", "少找钱", "价格不对", "金额不对", "金额有误", "价格标错",
   "结算错误", "欠费", "催缴", "滞纳金")
zh("billing_issue", 1.0, "到账", "付款后", "已付款", "付了款", "付款了", "余额", "余额不足",
   "充值", "结算", "找零", "保证金", "扣款成功")

# ---------------------------------------------------------------- outage
zh("outage", 2.5, "宕机", "当机", "挂了", "又挂了", "崩了", "又崩了", "崩溃", "系统崩溃",
   "系统故障", "系统异常", "系统出错", "系统错误", "系统瘫痪", "服务中断", "服务异常",
   "服务不可用", "服务挂了", "网站打不开", "网页打不开", "页面打不开", "打不开",
   "打不开了", "进不去", "进不去了", "登不上", "登不上去", "登录不了", "无法登录",
   "登录失败", "登陆不了", "无法登陆", "登录不上", "连不上", "连接不上", "连不上网",
   "无法连接", "连接失败", "连接超时", "请求超时", "加载不出来", "加载失败", "一直加载",
   "一直转圈", "转圈圈", "白屏", "黑屏", "花屏", "死机", "卡死", "卡死了", "卡顿",
   "卡机", "卡得要死", "卡的要死", "卡的一塌糊涂", "卡得一塌糊涂", "闪退", "自动重启",
   "反复重启", "无限重启", "开不了机", "开不开机", "无法开机", "报错", "一直报错",
   "错误代码", "500错误", "502错误", "503错误", "404错误", "断网", "掉线", "经常掉线",
   "频繁掉线", "网络中断", "网络故障", "网络不稳定", "信号不好", "没信号", "没有信号",
   "停电", "停服", "停机", "停机维护", "维护中", "无法访问", "访问不了", "用不了",
   "不能用", "不能用了", "没法用", "无法使用", "功能失效", "失灵", "故障", "出故障",
   "坏掉了", "数据丢失", "数据丢了", "同步失败", "无法同步", "收不到验证码",
   "收不到短信", "收不到邮件", "发不出去", "支付页面打不开", "下不了单", "无法下单")
en("outage", 2.5, "outage", "outages", "service outage", "network outage", "power outage",
   "internet outage", "cable outage", "frequent outages", "repeated outages",
   "constant outages", "is down", "was down", "went down", "goes down", "keeps going down",
   "service down", "internet down", "internet is down", "internet was down",
   "cable down", "site down", "site is down", "website down", "website is down",
   "server down", "servers down", "system down", "down again", "down for hours",
   "down for days", "not working", "doesn't work", "does not work", "stopped working",
   "isn't working", "is not working", "not loading", "won't load", "will not load",
   "can't connect", "cannot connect", "unable to connect", "can't log in",
   "cannot log in", "unable to log in", "can't login", "cannot login", "unable to login",
   "can't access", "cannot access", "unable to access", "no service", "no internet",
   "no connection", "no signal", "loss of service", "lost service", "lost connection",
   "loss of connection", "connection loss", "connectivity loss", "connectivity issues",
   "connectivity problems", "connection issues", "connection problems", "disconnects",
   "disconnecting", "keeps disconnecting", "keeps dropping", "dropping connection",
   "dropped connection", "dropped calls", "intermittent", "intermittent service",
   "intermittent internet", "intermittent connection", "interruption",
   "service interruption", "service interruptions", "downtime", "unavailable",
   "service unavailable", "crash", "crashed", "crashes", "crashing", "keeps crashing",
   "freezes", "freezing", "frozen", "error message", "error code", "error 500",
   "500 error", "502 bad gateway", "503 service unavailable", "504 gateway timeout", "timeout", "timed out", "time out", "slow internet",
   "slow speeds", "slow speed", "slow connection", "internet speed", "internet speeds",
   "speed issues", "speed problems", "low speed", "speeds not as advertised",
   "not getting the speed", "not getting speeds", "throttling", "throttled",
   "throttle", "bandwidth", "packet loss", "latency", "high latency", "lag",
   "lagging", "buffering", "pixelation", "pixelated", "no picture", "no sound",
   "no dial tone", "reboot", "rebooting", "reset the modem", "reset the router",
   "data loss", "lost data", "glitch", "glitches", "malfunction", "malfunctioning")
# Seen in real telecom complaints (Comcast, shared/data/complaints_en_real).
en("outage", 2.0, "slowness", "slower than", "throttles", "throttling speed", "disrupted",
   "disruption", "disruptions", "unreliable", "unreliable service", "spotty",
   "spotty service", "connection drop", "connection drops", "frequent drops",
   "keeps dropping", "dropping out", "speed issue", "internet issues")
en("outage", 1.0, "slow", "bug", "bugs", "broken")
en("outage", 0.5, "cable box", "modem", "router", "wifi", "wi-fi", "bandwidth")

# ---------------------------------------------------------------- quality
zh("quality_issue", 2.5, "质量差", "质量太差", "质量很差", "质量不好", "质量一般", "质量不行",
   "质量堪忧", "质量问题", "有质量问题", "做工差", "做工粗糙", "做工太差", "做工不好",
   "粗制滥造", "用料差", "材质差", "面料差", "布料差", "布料太差", "手感差", "不耐用",
   "易坏", "容易坏", "用了几天就坏", "用了一次就坏", "刚用就坏", "没用几天就坏",
   "坏了", "坏的", "是坏的", "都是坏的", "有坏的", "烂了", "烂的", "有烂的", "破损",
   "有破损", "破了", "碎了", "摔碎", "压坏", "压扁", "变形", "裂了", "裂开", "开裂",
   "漏了", "漏液", "漏水", "洒了", "撒了", "洒了一袋", "包装破损", "包装破了",
   "包装太差", "包装简陋", "外包装破损", "变质", "过期", "过期了", "临期", "发霉",
   "霉变", "馊了", "有馊味", "馊味", "异味", "有异味", "有味道", "刺鼻", "难闻",
   "有异物", "吃出了", "有头发", "吃出头发", "里面有头发", "有虫子", "吃出虫子",
   "有虫", "有苍蝇", "吃出苍蝇", "不新鲜", "很不新鲜", "不太新鲜",
   "假货", "是假的", "假的", "山寨", "高仿", "仿品", "不是正品", "非正品", "怀疑是假货",
   "二手", "旧的", "翻新", "翻新机", "用过的", "被人用过", "瑕疵", "有瑕疵", "划痕",
   "有划痕", "色差", "掉色", "褪色", "起球", "脱线", "开线", "缩水了",
   "尺码不对", "尺码偏小", "码数不对", "发错货", "发错了", "发错颜色",
   "发错尺码", "少发", "漏发", "少件", "缺件", "少配件", "配件不全", "没有配件",
   "不能用", "无法使用", "故障率高", "返修", "换货", "申请换货", "退换货", "退货", "要退货",
   "噪音大", "噪音太大", "发热严重", "耗电快", "掉电快", "不耐用",
   "续航差", "电池不耐用", "充不进电", "充不上电", "信号差", "屏幕有坏点", "坏点",
   "漏光", "盗版", "装订差", "印刷差", "印刷模糊", "字迹模糊", "缺页", "少页")
zh("quality_issue", 1.0, "有问题", "出问题", "毛病", "老毛病", "维修", "售后维修", "保修",
   "三包", "发烫", "偏小", "偏大", "线头")
en("quality_issue", 2.5, "poor quality", "low quality", "bad quality", "terrible quality",
   "cheap quality", "cheaply made", "quality issue", "quality issues", "quality problem",
   "quality problems", "defect", "defects", "defective", "faulty", "damaged",
   "arrived damaged", "arrived broken", "came broken", "broke", "broke after",
   "stopped working after", "fell apart", "falling apart", "cracked", "scratched",
   "dented", "leaking", "leaks", "missing parts", "missing part", "missing pieces",
   "wrong item", "wrong size", "wrong color", "not as described", "not as advertised",
   "doesn't match the description", "counterfeit", "fake", "knockoff", "knock-off",
   "used item", "refurbished", "expired", "spoiled", "rotten", "moldy", "mouldy",
   "stale", "contaminated", "foreign object", "return it", "return this",
   "want to return", "return the item", "exchange", "replacement", "send a replacement",
   "warranty", "warranty claim", "under warranty", "repair", "repairs", "recall",
   "overheating", "overheats", "battery drains", "battery life", "noisy", "noise")

# ---------------------------------------------------------------- urgency
zh("urgency", 2.0, "急用", "急需", "着急用", "很着急", "非常着急", "特别着急", "比较着急",
   "着急", "急死了", "急死人", "十万火急", "火急", "加急", "特急", "紧急", "非常紧急",
   "情况紧急", "紧急处理", "加急处理", "尽快处理", "请尽快", "麻烦尽快", "务必尽快",
   "越快越好", "马上处理", "立刻处理", "立即处理", "尽快", "尽早", "今天必须",
   "今天之内", "今天就要", "明天就要", "明天必须", "当天必须", "赶时间", "赶着用", "等着用", "等着急用", "时间紧",
   "时间紧迫", "时间很紧", "来不及了", "刻不容缓", "火烧眉毛", "在线等", "急急急",
   "速回", "请速回复")
zh("urgency", 1.0, "马上", "立刻", "立即", "赶紧", "赶快", "快点")
en("urgency", 0.5, "critical", "priority", "quickly", "today", "tonight", "this week")
en("urgency", 2.0, "urgent", "urgently", "asap", "as soon as possible", "immediately",
   "right away", "right now", "emergency", "time-sensitive", "time sensitive",
   "top priority", "high priority", "rush", "rush order", "expedite",
   "hurry", "promptly", "by tomorrow", "by today", "by end of day", "by eod",
   "end of day", "deadline is", "can't wait",
   "cannot wait", "waiting for days", "waiting for weeks", "still waiting",
   "please respond", "please reply", "please help", "need help", "need this fixed",
   "need it fixed", "fix this now", "fix it now")

# ---------------------------------------------------------------- purchase intent
zh("purchase_intent", 2.0, "想买", "想要买", "打算买", "准备买", "考虑买", "想购买",
   "有意购买", "意向购买", "购买意向", "采购", "采购需求", "批量采购", "大量采购",
   "集中采购", "年度采购", "批量购买", "批量订购", "大批量", "订购", "订货", "想下单", "准备下单", "马上下单", "怎么下单", "如何下单", "怎么买", "在哪买",
   "哪里买", "怎么购买", "如何购买", "多少钱", "多少钱一个", "价格多少", "什么价格",
   "怎么卖", "怎么收费", "报个价", "报价单", "出个报价", "发个报价", "请报价", "询价",
   "询价单", "比价", "要货", "拿货", "进货", "补货", "有货吗", "现货吗", "有现货吗",
   "还有货吗", "什么时候有货", "能发货吗", "起订量", "最小起订量", "MOQ", "样品",
   "寄样", "要样品", "申请样品", "试用", "申请试用", "免费试用", "试用版", "演示",
   "产品演示", "预约演示", "demo", "复购", "回购", "再来一单",
   "还会再买", "还会回购", "会回购", "已回购", "第二次购买", "第三次购买",
   "团购", "拼单", "加盟", "合作意向", "有合作意向", "洽谈", "商务洽谈",
   "签合同", "签约", "签单", "付定金", "交定金", "预付款", "首付款", "合同金额",
   "预算审批", "立项", "招标文件")
zh("purchase_intent", 0.5, "续约", "续费", "续订", "下单", "成交", "方案", "解决方案", "产品方案", "代理", "经销")
en("purchase_intent", 2.0, "want to buy", "looking to buy", "interested in buying",
   "planning to buy", "plan to buy", "ready to buy", "ready to order", "want to order",
   "would like to order", "place an order", "placing an order", "bulk order",
   "bulk orders", "bulk purchase", "volume discount", "purchase", "purchasing",
   "procurement", "request a quote", "requesting a quote", "request for quote",
   "request for quotation", "rfq", "rfp", "request for proposal", "send me a quote",
   "send a quote", "get a quote", "need a quote", "pricing information",
   "price list", "how much does it cost", "how much is", "how much for",
   "what does it cost", "what is the price", "is it available", "in stock",
   "do you have", "do you ship to", "minimum order", "minimum order quantity", "moq",
   "sample", "samples", "free trial", "trial", "start a trial", "demo", "book a demo",
   "schedule a demo", "request a demo", "product demo", "sign up", "signing up",
   "subscribe", "upgrade", "upgrading", "upgrade my plan", "add more seats",
   "more licenses", "additional licenses", "renew", "renewal", "renewing",
   "reorder", "re-order", "buy again", "buy more", "order more", "contract signing",
   "sign the contract", "purchase order", "po number", "budget approved",
   "budget approval", "decision maker", "proposal", "business case")

# ---------------------------------------------------------------- competitor
zh("competitor_mention", 2.0, "别家", "别的家", "其他家", "其它家", "另一家", "别的店",
   "其他店", "别的商家", "其他商家", "别的平台", "其他平台", "别的品牌", "其他品牌",
   "同行", "竞争对手", "竞品", "友商", "别人家", "人家那边", "隔壁家", "隔壁店", "比别家",
   "比其他家", "比同行", "同类产品", "同类型产品", "同价位的", "同档次", "替代品",
   "替代方案", "备选供应商", "另一个供应商", "其他供应商", "别的供应商", "新供应商",
   "原供应商", "现有供应商", "别家更便宜", "别家便宜", "其他家更便宜", "人家更便宜",
   "别家都", "别家的", "人家的", "比别人家", "不如别家", "不如人家", "还不如别家",
   "别家送得快", "别家快", "其他平台更便宜", "网上更便宜", "实体店更便宜",
   "竞争对手报价", "对方报价", "对方给的价格", "别家报价", "其他家报价", "同行报价",
   "比价之后", "对比了几家", "比较了几家", "货比三家")
en("competitor_mention", 2.0, "competitor", "competitors", "competition", "competing",
   "competitive offer", "competing offer", "competitor's price", "competitor pricing",
   "other vendor", "other vendors", "another vendor", "alternative vendor",
   "another company", "other company", "other companies", "another provider",
   "other provider", "other providers", "comparable product", "similar product",
   "cheaper competitor", "better offer", "better deal elsewhere", "offered me",
   "they offered", "their offer", "matching offer", "compared to", "compared with",
   "versus", "vs", "switching from", "switched from", "came from", "moved from")

# ---------------------------------------------------------------- service / support quality
zh("support_failure", 1.0, "客服", "售后", "工单", "联系售后", "找售后", "售后电话")
zh("support_failure", 2.0, "人工客服", "转人工", "找不到人工", "联系不上客服",
   "联系不上", "联系不到", "找不到人", "打不通", "电话打不通", "客服电话打不通",
   "一直占线", "没人接", "无人接听", "不接电话", "电话不接", "一直关机", "电话关机",
   "挂电话", "挂了电话",
   "直接挂了", "客服不回", "不回复", "不回消息", "消息不回", "已读不回", "客服推脱",
   "机器人客服", "自动回复", "只会自动回复", "答非所问", "说了半天", "重复说", "反复沟通",
   "沟通无果", "沟通不畅", "没有回音", "石沉大海", "没人处理", "没人跟进", "没有跟进",
   "不跟进", "处理太慢", "处理很慢", "处理效率低", "效率太低", "售后差",
   "售后太差", "售后服务差", "售后不管", "售后不理", "售后推脱", "提交工单", "工单没人处理", "等待回复", "等回复")
en("support_failure", 0.5, "ticket", "case number", "reference number", "spoke to",
   "spoke with", "talked to", "representative", "representatives", "rep", "reps", "agent",
   "agents", "supervisor", "manager", "technician", "call center", "live chat",
   "chat support")
en("support_failure", 1.0, "customer service", "customer support", "support ticket",
   "tech support", "technical support")
en("support_failure", 2.5, "no help", "failure to respond", "unwilling to resolve",
   "refuses to fix", "refuses to help", "no response", "never responded")
en("support_failure", 2.0, "on hold", "hold time", "long hold times",
   "wait time", "waited on the phone", "called customer service",
   "called multiple times", "called several times", "called numerous times",
   "calling for weeks", "never showed up", "no-show", "technician never showed",
   "technician did not show up", "technician didn't show up", "tech never showed up",
   "missed appointment", "missed appointments", "no show appointment",
   "no one answers", "nobody answers", "no answer", "couldn't reach", "could not reach",
   "can't reach", "cannot reach", "unable to reach", "transferred", "transferred me",
   "kept transferring", "call dropped", "hung up", "callback", "call back",
   "follow up", "follow-up", "no follow up", "no follow-up", "promised to call",
   "promised a callback", "email support", "no email response", "automated system",
   "automated response", "chatbot", "miscommunication", "poor support")
zh("support_failure", 2.0, "没人回复",
   "怎么没人回复")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "lua/intents/default_terms.csv"
    rows = sorted((intent, term) + ROWS[(intent, key)][:2]
                  for (intent, key) in ROWS
                  for term in [ROWS[(intent, key)][2]])
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["intent", "term", "weight", "lang"])
        for intent, term, weight, lang in rows:
            w.writerow([intent, term, f"{weight:g}", lang])
    counts = {}
    for intent, _t, _w, _l in rows:
        counts[intent] = counts.get(intent, 0) + 1
    for k in sorted(counts):
        print(f"{k:22} {counts[k]}", file=sys.stderr)
    print(f"{'total':22} {len(rows)}", file=sys.stderr)


if __name__ == "__main__":
    main()
