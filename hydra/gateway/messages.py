"""Server -> client TWS API messages for the simulated gateway, field by field.

Each function returns the field list of one message (frame it with tws_protocol.encode) in
its newest layout, the one ib_insync's decoder reads for server version 176; `for_version`
then lays it out for the version a session negotiated (the official client's decoder and its
MIN_SERVER_VER_* constants are the specification). Where a field means nothing in the
simulator it is sent empty, as TWS sends unset values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from hydra.gateway.protocol import UNSET_DOUBLE, UNSET_INTEGER, Out

ORDER_TYPES = "LMT,MKT,DAY,GTC"
JAVA_DOUBLE_MAX = "1.7976931348623157E308"  # how TWS writes an unset double in some messages
# TWS writes contractData's aggGroup with a plain add of its int, so an unset one goes out as
# Integer.MAX_VALUE's digits, not empty (tws_protocol.field writes UNSET_INTEGER as '')
AGG_GROUP_UNSET = str(UNSET_INTEGER)

# Server versions at which a message this gateway sends changes layout (157..176).
V_DURATION = 159  # openOrder gains duration
V_POST_TO_ATS = 160  # openOrder gains postToAts
V_AUTO_CANCEL_PARENT = 162  # openOrder gains autoCancelParent
V_SIZE_RULES = 163  # contractData gains suggestedSizeIncrement (163 only)
V_SIZE_RULES_FULL = 164  # contractData drops its version and mdSizeMultiplier, gains
#                          minSize, sizeIncrement, suggestedSizeIncrement
V_ADVANCED_REJECT = 166  # error gains advancedOrderRejectJson
V_PEG_BEST_PEG_MID = 170  # openOrder and completedOrder gain minTradeQty .. midOffsetAtHalf
LAYOUT_CHANGES = (V_DURATION, V_POST_TO_ATS, V_AUTO_CANCEL_PARENT, V_SIZE_RULES,
                  V_SIZE_RULES_FULL, V_ADVANCED_REJECT, V_PEG_BEST_PEG_MID)
_CONTRACT_DATA_VERSION = 8  # the version field contractData carries below 164
_PEG_FIELDS = 5  # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsetAt*


def for_version(fields: list[object], version: int) -> list[object]:
    """A message built in its newest layout, laid out for server `version` (157..176).

    One place for every version condition, so a builder cannot forget one: a client of an
    older version drops a message with the wrong field count (ibapi logs "diff len fields
    and params") or fails to decode it.
    """
    msg_id = fields[0]
    if msg_id == Out.ERR_MSG and version < V_ADVANCED_REJECT:
        return fields[:-1]
    if msg_id == Out.CONTRACT_DATA and version < V_SIZE_RULES_FULL:
        head, tail = fields[:14], fields[14:-3]  # through minTick / multiplier on
        size = [fields[-1]] if version == V_SIZE_RULES else []
        return [head[0], _CONTRACT_DATA_VERSION, *head[1:], 1, *tail, *size]
    if msg_id == Out.OPEN_ORDER:
        body, peg = fields[:-_PEG_FIELDS], fields[-_PEG_FIELDS:]
        body, (duration, post_to_ats, auto_cancel) = body[:-3], body[-3:]
        out = list(body)
        out += [duration] if version >= V_DURATION else []
        out += [post_to_ats] if version >= V_POST_TO_ATS else []
        out += [auto_cancel] if version >= V_AUTO_CANCEL_PARENT else []
        out += peg if version >= V_PEG_BEST_PEG_MID else []
        return out
    if msg_id == Out.COMPLETED_ORDER and version < V_PEG_BEST_PEG_MID:
        return fields[:-_PEG_FIELDS]
    return fields


@dataclass(frozen=True)
class IbContract:
    """A contract as the gateway describes it (IB's fields, not Hydra's)."""

    con_id: int
    symbol: str
    sec_type: str  # "FUT" | "CONTFUT"
    last_trade_date: str  # YYYYMMDD
    multiplier: str  # "5000"
    exchange: str
    currency: str
    local_symbol: str  # IB style, e.g. "ZO   MAR 27" (deliberately unlike Hydra's "ZOH7")
    trading_class: str
    contract_month: str  # YYYYMM
    min_tick: float  # in currency units: 0.0025 for a 1/4 cent grain tick
    price_magnifier: int  # 100: prices are quoted in cents
    long_name: str
    time_zone: str  # IB's time zone id, e.g. "US/Central"
    trading_hours: str = ""  # IB's format, from the exchange calendar (ib_hours.ib_hours)
    liquid_hours: str = ""
    market_rule_id: int = 0  # reqMarketRule answers this id with the price increment

    def wire(self) -> list[object]:
        """conId .. tradingClass as in execDetails / openOrder (11 fields)."""
        return [self.con_id, self.symbol, self.sec_type, self.last_trade_date, 0.0, "",
                self.multiplier, self.exchange, self.currency, self.local_symbol,
                self.trading_class]

    def wire_primary(self) -> list[object]:
        """The same with primaryExchange where updatePortfolio puts the exchange."""
        return [self.con_id, self.symbol, self.sec_type, self.last_trade_date, 0.0, "",
                self.multiplier, self.exchange, self.currency, self.local_symbol,
                self.trading_class]


@dataclass(frozen=True)
class OrderView:
    """An order as the gateway reports it."""

    order_id: int  # the client's id (0 when the gateway does not know who placed it)
    client_id: int
    perm_id: int
    action: str  # BUY | SELL
    quantity: int
    order_type: str
    limit_price: float | None
    tif: str
    account: str
    order_ref: str
    status: str
    filled: int
    avg_fill_price: float
    last_fill_price: float
    completed_time: str = ""


def error(req_id: int, code: int, message: str) -> list[object]:
    return [Out.ERR_MSG, 2, req_id, code, message, ""]


def next_valid_id(order_id: int) -> list[object]:
    return [Out.NEXT_VALID_ID, 1, order_id]


def managed_accounts(accounts: str) -> list[object]:
    return [Out.MANAGED_ACCTS, 1, accounts]


def current_time(epoch: int) -> list[object]:
    return [Out.CURRENT_TIME, 1, epoch]


def contract_data(req_id: int, c: IbContract) -> list[object]:
    return [
        Out.CONTRACT_DATA, req_id, c.symbol, c.sec_type, c.last_trade_date, 0.0, "",
        c.exchange, c.currency, c.local_symbol, c.symbol, c.trading_class, c.con_id,
        c.min_tick, c.multiplier, ORDER_TYPES, c.exchange, c.price_magnifier, 0, c.long_name,
        "", c.contract_month, "", "", "", c.time_zone, c.trading_hours, c.liquid_hours,
        "", "", 0,  # evRule, evMultiplier, secIdList count
        # aggGroup, underSymbol, underSecType, marketRuleIds (one per valid exchange),
        # realExpirationDate, stockType
        AGG_GROUP_UNSET, c.symbol, "", c.market_rule_id or "", c.last_trade_date, "",
        # minSize, sizeIncrement, suggestedSizeIncrement
        1, 1, 1,
    ]


def market_rule(rule_id: int, increments: list[tuple[float, float]]) -> list[object]:
    """marketRule (93): (lowEdge, increment) pairs; no version field."""
    return [Out.MARKET_RULE, rule_id, len(increments),
            *[v for pair in increments for v in pair]]


def contract_data_end(req_id: int) -> list[object]:
    return [Out.CONTRACT_DATA_END, 1, req_id]


def _order_core(o: OrderView, c: IbContract) -> list[object]:
    """openOrder from action through deltaNeutralAuxPrice (shared shape)."""
    return [
        o.action, o.quantity, o.order_type,
        o.limit_price if o.limit_price is not None else UNSET_DOUBLE, UNSET_DOUBLE, o.tif,
        "", o.account, "O", 0, o.order_ref,
    ]


def open_order(o: OrderView, c: IbContract) -> list[object]:
    fields: list[object] = [Out.OPEN_ORDER, o.order_id, *c.wire(), *_order_core(o, c)]
    fields += [
        o.client_id, o.perm_id, 0, 0,  # clientId, permId, outsideRth, hidden
        UNSET_DOUBLE, "", "",  # discretionaryAmt, goodAfterTime, deprecated sharesAllocation
        "", "", "", "", "",  # faGroup, faMethod, faPercentage, faProfile, modelCode
        "", "", "", "", 0, "", "",  # goodTillDate, rule80A, percentOffset, settlingFirm,
        #                              shortSaleSlot, designatedLocation, exemptCode
        0, "", "", "", "", "",  # auctionStrategy, startingPrice, stockRefPrice, delta,
        #                          stockRangeLower, stockRangeUpper
        "", 0, 0, 0, "", 0, 0, 0, "",  # displaySize, blockOrder, sweepToFill, allOrNone,
        #                                minQty, ocaType, eTradeOnly, firmQuoteOnly, nbboPriceCap
        0, 0, "", "", "", "",  # parentId, triggerMethod, volatility, volatilityType,
        #                         deltaNeutralOrderType, deltaNeutralAuxPrice
        0, "", "", "", "", "", "",  # continuousUpdate, referencePriceType, trailStopPrice,
        #                              trailingPercent, basisPoints, basisPointsType,
        #                              comboLegsDescrip
        0, 0, 0,  # combo legs, order combo legs, smart combo routing params
        "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        0, "", "", 0, 0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dnc
        "",  # algoStrategy
        0, 0, o.status,  # solicited, whatIf, status
        "", "", "", "", "", "", "", "", "",  # margin fields before / change / after
        "", "", "", "", "",  # commission, minCommission, maxCommission, currency, warning
        0, 0,  # randomizeSize, randomizePrice
        0,  # conditions
        "", "", "", "", "", "", "", "",  # adjustedOrderType .. adjustableTrailingUnit
        "", "", "",  # softDollarTier name, value, display name
        "", 0, 0, "", 0,  # cashQty, dontUseAutoPriceForHedge, isOmsContainer,
        #                    discretionaryUpToLimitPrice, usePriceMgmtAlgo
        "", "", 0,  # duration, postToAts, autoCancelParent
        "", "", "", "", "",  # minTradeQty, minCompeteSize, competeAgainstBestOffset,
        #                       midOffsetAtWhole, midOffsetAtHalf
    ]
    return fields


def open_order_end() -> list[object]:
    return [Out.OPEN_ORDER_END, 1]


def completed_order(o: OrderView, c: IbContract) -> list[object]:
    fields: list[object] = [Out.COMPLETED_ORDER, *c.wire(), *_order_core(o, c)]
    fields += [
        o.perm_id, 0, 0,  # permId, outsideRth, hidden
        UNSET_DOUBLE, "",  # discretionaryAmt, goodAfterTime
        "", "", "", "", "",  # faGroup, faMethod, faPercentage, faProfile, modelCode
        "", "", "", "", 0, "", "",  # goodTillDate, rule80A, percentOffset, settlingFirm,
        #                              shortSaleSlot, designatedLocation, exemptCode
        "", "", "", "", "",  # startingPrice, stockRefPrice, delta, stockRangeLower/Upper
        "", 0, 0, "", 0, 0, "",  # displaySize, sweepToFill, allOrNone, minQty, ocaType,
        #                          triggerMethod, volatility
        "", "", "",  # volatilityType, deltaNeutralOrderType, deltaNeutralAuxPrice
        0, "", "", "", "",  # continuousUpdate, referencePriceType, trailStopPrice,
        #                      trailingPercent, comboLegsDescrip
        0, 0, 0,  # combo legs, order combo legs, smart combo routing params
        "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement
        "",  # hedgeType
        "", "", 0, 0,  # clearingAccount, clearingIntent, notHeld, dnc
        "",  # algoStrategy
        0, o.status, 0, 0,  # solicited, status, randomizeSize, randomizePrice
        0,  # conditions
        "", "", "", 0, 0,  # trailStopPrice, lmtPriceOffset, cashQty,
        #                    dontUseAutoPriceForHedge, isOmsContainer
        "", o.filled, 0, 0, "", 0, 0, 0,  # autoCancelDate, filledQuantity, refFuturesConId,
        #                                    autoCancelParent, shareholder, imbalanceOnly,
        #                                    routeMarketableToBbo, parentPermId
        o.completed_time, o.status,  # completedTime, completedStatus
        "", "", "", "", "",  # minTradeQty .. midOffsetAtHalf
    ]
    return fields


def completed_orders_end() -> list[object]:
    return [Out.COMPLETED_ORDERS_END]


def order_status(o: OrderView) -> list[object]:
    return [Out.ORDER_STATUS, o.order_id, o.status, o.filled, o.quantity - o.filled,
            o.avg_fill_price, o.perm_id, 0, o.last_fill_price, o.client_id, "", UNSET_DOUBLE]


def ib_time(when: datetime, zone: str = "America/Chicago") -> str:
    """'YYYYMMDD HH:MM:SS <zone>' as TWS 10 writes execution times."""
    return f"{when.astimezone(ZoneInfo(zone)):%Y%m%d %H:%M:%S} {zone}"


@dataclass(frozen=True)
class ExecView:
    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    time: datetime
    account: str
    exchange: str
    side: str  # BOT | SLD
    shares: int
    price: float
    cum_qty: int
    avg_price: float
    order_ref: str
    last_liquidity: int = 0  # 1 added (a resting order filled), 2 removed (marketable)


def exec_details(req_id: int, e: ExecView, c: IbContract) -> list[object]:
    """execDetails; the time in the contract's time zone, named as contract details name it."""
    return [Out.EXECUTION_DATA, req_id, e.order_id, *c.wire(), e.exec_id,
            ib_time(e.time, c.time_zone), e.account, e.exchange, e.side, e.shares, e.price,
            e.perm_id, e.client_id, 0, e.cum_qty, e.avg_price, e.order_ref, "", "", "",
            e.last_liquidity]


def exec_details_end(req_id: int) -> list[object]:
    return [Out.EXECUTION_DATA_END, 1, req_id]


def commission_report(exec_id: str, commission: float, currency: str,
                      realized: float | None) -> list[object]:
    """commissionReport; unset realizedPNL and yield as IB writes them (Double.MAX_VALUE in
    Java's notation, not empty) and yieldRedemptionDate 0."""
    return [Out.COMMISSION_REPORT, 1, exec_id, commission, currency,
            JAVA_DOUBLE_MAX if realized is None else realized, JAVA_DOUBLE_MAX, 0]


def position(account: str, c: IbContract, quantity: int, avg_cost: float) -> list[object]:
    return [Out.POSITION_DATA, 3, account, *c.wire(), quantity, avg_cost]


def position_end() -> list[object]:
    return [Out.POSITION_END, 1]


def portfolio_value(c: IbContract, quantity: int, market_price: float, market_value: float,
                    avg_cost: float, unrealized: float, realized: float,
                    account: str) -> list[object]:
    return [Out.PORTFOLIO_VALUE, 8, *c.wire_primary(), quantity, market_price, market_value,
            avg_cost, unrealized, realized, account]


def account_value(tag: str, value: str, currency: str, account: str) -> list[object]:
    return [Out.ACCT_VALUE, 2, tag, value, currency, account]


def account_time(hhmm: str) -> list[object]:
    return [Out.ACCT_UPDATE_TIME, 1, hhmm]


def account_download_end(account: str) -> list[object]:
    return [Out.ACCT_DOWNLOAD_END, 1, account]


def account_update_multi(req_id: int, account: str, tag: str, value: str,
                         currency: str) -> list[object]:
    return [Out.ACCOUNT_UPDATE_MULTI, 1, req_id, account, "", tag, value, currency]


def account_update_multi_end(req_id: int) -> list[object]:
    return [Out.ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str,
                    currency: str) -> list[object]:
    return [Out.ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> list[object]:
    return [Out.ACCOUNT_SUMMARY_END, 1, req_id]


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> list[object]:
    return [Out.PNL, req_id, daily, unrealized, realized]


def pnl_single(req_id: int, position: int, daily: float | str, unrealized: float,
               realized: float, value: float) -> list[object]:
    return [Out.PNL_SINGLE, req_id, position, daily, unrealized, realized, value]


def market_data_type(req_id: int, data_type: int) -> list[object]:
    return [Out.MARKET_DATA_TYPE, 1, req_id, data_type]


def tick_req_params(req_id: int, min_tick: float) -> list[object]:
    return [Out.TICK_REQ_PARAMS, req_id, min_tick, "", 3]


def tick_price(req_id: int, tick_type: int, price: float, size: int) -> list[object]:
    return [Out.TICK_PRICE, 6, req_id, tick_type, price, size, 0]


def tick_size(req_id: int, tick_type: int, size: int) -> list[object]:
    return [Out.TICK_SIZE, 6, req_id, tick_type, size]


def tick_snapshot_end(req_id: int) -> list[object]:
    return [Out.TICK_SNAPSHOT_END, 1, req_id]


def historical_data(req_id: int, start: str, end: str,
                    bars: list[tuple[str, float, float, float, float, int]]) -> list[object]:
    fields: list[object] = [Out.HISTORICAL_DATA, req_id, start, end, len(bars)]
    for day, o, h, lo, c, v in bars:
        fields += [day, o, h, lo, c, v, c, max(1, v // 10)]
    return fields


# ------------------------------------------------------------------------ injected faults
# Broker-reply faults `hydra sim-gateway --fault NAME` injects (inert unless named), to rehearse
# how Hydra's IB adapter and the daily cycle handle them. Name -> what the gateway then does.
LINK_TEXT = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2110: "Connectivity between Trader Workstation and server is broken. It will be restored "
          "automatically.",
}
REJECT_TEXT = {
    201: "Order rejected - reason:The account does not have trading permissions for this "
         "product (hydra sim-gateway fault reject-201)",
    110: "The price does not conform to the minimum price variation for this contract. "
         "(hydra sim-gateway fault reject-110)",
    321: "Error validating request.-'bN' : cause - hydra sim-gateway fault reject-321",
}
