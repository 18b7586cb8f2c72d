"""Config models: types, ranges and descriptions of every setting.

The values live in the YAML files under ``conf/`` (each with its unit and source); this module
only says what a value may be, so a bad run stops before any simulation with a plain message.
"""

from __future__ import annotations

import copy
import typing
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

Frac = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]
PosFloat = Annotated[float, Field(gt=0.0)]
NeedLevel = Literal["low", "moderate", "high"]


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, values are not coerced silently."""

    # Strict: a boolean is not a count, text is not a number (a whole number is still a valid float).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ByNeed(Section):
    """One value per need level."""

    low: NonNegFloat
    moderate: NonNegFloat
    high: NonNegFloat

    def as_tuple(self) -> tuple[float, float, float]:
        """Values in need-level order (low, moderate, high)."""
        return (self.low, self.moderate, self.high)


class NeedMix(ByNeed):
    """Share of people at each need level; the three shares add up to 1."""

    low: Frac
    moderate: Frac
    high: Frac

    @model_validator(mode="after")
    def _sums_to_one(self) -> NeedMix:
        total = self.low + self.moderate + self.high
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"the shares must add up to 1 (they add up to {total:g})")
        return self


class Growth(Section):
    """A caseload growing to a target over a period, and what the staff do about it (off: no target)."""

    target_people: int | None = Field(
        ge=1, le=2_000_000, description="Caseload the team grows to (count); null = no growth."
    )
    years: PosFloat = Field(le=100, description="Years the caseload takes to grow, at an even pace (years).")
    start_year: NonNegFloat = Field(le=100, description="Years after the warm-up that growth begins (years).")
    staff: Literal["follow", "fixed"] = Field(
        description="follow: a social-worker post is funded whenever the planned caseload passes what the posts "
        "cover at the caseload per worker, and filled after the recruitment lag; fixed: the team absorbs it."
    )


class Team(Section):
    """The community team and the people it supports."""

    people: int = Field(ge=1, le=2_000_000, description="People supported by the team (count).")
    caseload_per_worker: float = Field(
        ge=1,
        le=500,
        description="People per social-worker FTE (at least 1); sets the number of posts in both arms.",
    )
    advanced_practitioners: int = Field(ge=0, le=1000, description="Advanced practitioner posts (count).")
    need_mix: NeedMix = Field(description="Share of people with low, moderate and high need.")
    communication_need_frac: Frac = Field(description="Share of people with a communication need.")
    fluctuating_capacity_frac: Frac = Field(description="Share of people whose mental capacity fluctuates.")
    initial_risk_max: Frac = Field(description="Initial risk is uniform on [0, this].")
    growth: Growth = Field(
        # A team file written before growth existed has none: no target (the other values as conf/team/default.yaml).
        default_factory=lambda: Growth(target_people=None, years=3.0, start_year=0.0, staff="follow"),
        description="Growth of the caseload to a target, and the rule for staff.",
    )

    @field_validator("growth")
    @classmethod
    def _grows(cls, growth: Growth, info: ValidationInfo) -> Growth:
        people, target = info.data.get("people"), growth.target_people
        if people is not None and target is not None and target < people:
            raise ValueError(
                f"target_people {target} is below team.people ({people}); allowed: at least team.people "
                "(a caseload that shrinks is modelled with exits: population)"
            )
        return growth


class Population(Section):
    """People coming and going: referrals, and exits by closure, moving away and death (all 0: a static caseload)."""

    referrals_per_year: NonNegFloat = Field(
        le=50,
        description="New people referred per year, as a share of the planned caseload (the starting one unless "
        "team.growth sets a target) (per year).",
    )
    referral_need_mix: NeedMix = Field(description="Share of referrals with low, moderate and high need.")
    referral_communication_need_frac: Frac = Field(description="Share of referrals with a communication need.")
    referral_fluctuating_capacity_frac: Frac = Field(description="Share of referrals whose capacity fluctuates.")
    closure_per_year: ByNeed = Field(description="Hazard of the work coming to a conclusion, by need (per year).")
    move_away_per_year: NonNegFloat = Field(le=50, description="Hazard of moving out of the area (per year).")
    mortality_per_year: ByNeed = Field(description="Hazard of death, by need (per year).")
    caseload_turnover_per_year: NonNegFloat | None = Field(
        le=50,
        description="If set: people leave at this rate at every need level (closure makes up what moving and death "
        "do not) and referrals match it, a steady caseload that turns over this share a year (per year).",
    )

    @model_validator(mode="before")
    @classmethod
    def _steady_turnover(cls, data: Any) -> Any:
        """Expand ``caseload_turnover_per_year`` into closure hazards and a matching referral rate."""
        if not isinstance(data, dict) or data.get("caseload_turnover_per_year") is None:
            return data
        rate = data["caseload_turnover_per_year"]
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            return data  # the field's own check names it
        data = dict(data)
        death, move = data.get("mortality_per_year") or {}, data.get("move_away_per_year") or 0.0
        closure = {}
        for need in ByNeed.model_fields:
            rest = rate - move - (death.get(need, 0.0) if isinstance(death, dict) else 0.0)
            if rest < 0:
                raise ValueError(
                    f"caseload_turnover_per_year = {rate:g} is below the {need}-need exit rate from moving and death "
                    f"alone ({rate - rest:g}); allowed: at least that"
                )
            closure[need] = rest
        data["closure_per_year"] = closure
        data["referrals_per_year"] = rate
        return data


class Workforce(Section):
    """Staff time, absence, leaving, recruitment and agency cover."""

    turnover_per_year: NonNegFloat = Field(le=5, description="Base leaving hazard of permanent staff (per year).")
    recruitment_lag_days: PosFloat = Field(le=3650, description="Mean time to fill a vacant post (days).")
    recruitment_lag_shape: PosFloat = Field(le=100, description="Gamma shape of the recruitment lag (1 = exponential).")
    agency_cover_frac: Frac = Field(description="Chance that a vacant post is covered by an agency worker.")
    agency_start_lag_days: NonNegFloat = Field(le=365, description="Days from vacancy to an agency worker starting.")
    agency_turnover_per_year: NonNegFloat = Field(le=20, description="Leaving hazard of agency workers (per year).")
    stress_turnover_gain: NonNegFloat = Field(
        le=100, description="Leaving hazard is multiplied by 1 + gain x overload (overload = stress above 1)."
    )
    stress_smoothing_days: PosFloat = Field(le=3650, description="Time constant of the stress average (days).")
    casework_hours_per_day: PosFloat = Field(le=24, description="Hours per FTE per calendar day for modelled casework.")
    absence_frac: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        description="Long-run share of days a worker is absent (leave and sickness)."
    )
    absence_spell_mean_days: Annotated[float, Field(ge=1.0, le=365)] = Field(description="Mean absence spell (days).")


class Named(Section):
    """The named-worker system."""

    extra_fte: NonNegFloat = Field(le=10_000, description="Extra social-worker FTE in the named arm (the investment).")
    caseload_cap: int = Field(ge=1, le=10_000, description="Most people one named worker FTE may hold.")
    proactive_checkins: bool = Field(description="Named workers make proactive check-ins when they have time.")
    checkins_per_year: ByNeed = Field(description="Check-in cadence by need level (per year).")
    cover_workers_per_day: int = Field(ge=0, le=10_000, description="Social workers on the small duty cover rota.")
    max_wait_days: int = Field(ge=0, le=3650, description="Days a reactive contact waits for its named worker.")


class Duty(Section):
    """The duty system."""

    workers_per_day: int = Field(ge=1, le=10_000, description="Social workers on the duty desk each day.")


class DutyCalls(Section):
    """Duty with welfare calls: the duty desk plus proactive calls at the named cadence, with no named worker."""

    proactive_calls: bool = Field(
        description="The duty team makes welfare calls at named.checkins_per_year from spare hours."
    )
    callers: Literal["team", "desk"] = Field(
        description="Who makes the calls: any present worker with spare hours (team) or only the day's desk (desk)."
    )


class Hybrid(Section):
    """The hybrid system: named workers for some need levels, the duty desk for everyone else."""

    named_needs: list[NeedLevel] = Field(
        max_length=3, description="Need levels that get a named worker (the rest use the duty desk)."
    )

    @model_validator(mode="after")
    def _levels_unique(self) -> Hybrid:
        if len(set(self.named_needs)) != len(self.named_needs):
            raise ValueError(f"each need level may appear once (got {self.named_needs})")
        return self


class Switch(Section):
    """The switch-over: duty until a day, then people move to named workers over some weeks."""

    day: int = Field(
        ge=0, le=73_000, description="Day of the measured period the team switches to named workers (days; 0 = first)."
    )
    allocation_weeks: float = Field(
        ge=0, le=520, description="Weeks over which people are allocated to named workers, highest need first (weeks)."
    )


class Effects(Section):
    """Effect sizes of the mechanisms that can favour named workers; 0 switches a mechanism off."""

    retell_extra_frac: NonNegFloat = Field(le=10, description="Extra contact time when the story is retold.")
    familiarity_quality_gain: Frac = Field(description="Contact quality gained at full familiarity.")
    call_confidence_gain: NonNegFloat = Field(le=10, description="Relative rise in calls at full familiarity.")
    advocacy_admission_reduction: Frac = Field(description="Relative cut in crisis escalation at full familiarity.")
    discharge_coordination_reduction: Frac = Field(description="Relative cut in delayed discharge by a known worker.")
    assessment_error_reduction: Frac = Field(description="Relative cut in wrong capacity findings at full familiarity.")
    named_retention: Frac = Field(description="Relative cut in the leaving hazard of named workers.")
    prevention_admission_reduction: Frac = Field(description="Relative cut in escalation after a recent contact.")
    unfamiliar_detection_loss: Frac = Field(
        description="Share of the risk a contact would remove that an unfamiliar worker misses (less if known)."
    )


class Life(Section):
    """Risk drift and life events."""

    risk_drift_per_year: ByNeed = Field(description="Rise in risk per year by need level (risk units per year).")
    events_per_year: NonNegFloat = Field(le=365, description="Rate of life events (per person-year).")
    event_risk_jump: Frac = Field(description="Rise in risk at a life event (risk units).")


class ContactHours(Section):
    """Hours a contact takes with a worker who knows the person."""

    reactive: PosFloat = Field(le=100)
    review: PosFloat = Field(le=100)
    checkin: PosFloat = Field(le=100)
    crisis: PosFloat = Field(le=100)


class Contacts(Section):
    """Demand, contact time, quality and familiarity."""

    reactive_per_year: ByNeed = Field(description="Reactive contact rate at risk 0 by need level (per person-year).")
    reactive_risk_gain: NonNegFloat = Field(le=100, description="Contact rate is multiplied by 1 + gain x risk.")
    review_interval_days: int = Field(ge=1, le=3650, description="Days between scheduled reviews.")
    hours: ContactHours = Field(description="Hours per contact by kind.")
    communication_retell_multiplier: Annotated[float, Field(ge=1.0, le=10)] = Field(
        description="Retelling takes this many times longer with a communication need."
    )
    retell_familiarity_threshold: Frac = Field(description="Below this familiarity the story is retold.")
    quality_base: Frac = Field(description="Contact quality with an unknown worker and no wait.")
    quality_wait_loss_per_day: Frac = Field(description="Quality lost per day of waiting.")
    risk_reduction: Frac = Field(description="Share of risk removed by a contact of quality 1.")
    familiarity_learning_frac: Frac = Field(description="Share of the gap to full familiarity closed per contact.")
    familiarity_fade_days: PosFloat = Field(le=36500, description="Time constant of familiarity fading (days).")
    familiarity_slots: int = Field(ge=1, le=64, description="Workers remembered per person (sparse familiarity).")


class Crisis(Section):
    """Crises and what they end in."""

    base_per_year: NonNegFloat = Field(le=365, description="Crisis rate at risk 0 (per person-year).")
    risk_per_year: NonNegFloat = Field(le=365, description="Added crisis rate at risk 1 (per person-year).")
    p_admission: Frac = Field(description="Chance a crisis ends in admission with an unknown responder.")
    p_breakdown: Frac = Field(description="Chance a crisis ends in a placement breakdown with an unknown responder.")
    risk_after_frac: Frac = Field(description="Risk is multiplied by this after a crisis response.")
    prevention_window_days: int = Field(ge=0, le=3650, description="A contact this recent counts as preventative.")


class Hospital(Section):
    """Inpatient stays, delayed discharge and readmission."""

    stay_mean_days: PosFloat = Field(le=36500, description="Mean stay per admission (days).")
    stay_sigma: Annotated[float, Field(ge=0.0, le=5)] = Field(description="Log-scale sd of the log-normal stay.")
    p_delayed_discharge: Frac = Field(description="Chance a discharge is delayed without coordination.")
    delay_mean_days: PosFloat = Field(le=3650, description="Mean delay of a delayed discharge (days).")
    readmission_window_days: int = Field(ge=0, le=3650, description="Days after discharge with raised risk.")
    readmission_multiplier: Annotated[float, Field(ge=1.0, le=100)] = Field(
        description="Admission chance in a crisis is multiplied by this within the window."
    )
    readmission_crisis_multiplier: Annotated[float, Field(ge=1.0, le=100)] = Field(
        description="Crisis hazard is multiplied by this within the window after discharge."
    )
    discharge_risk: Frac = Field(description="Risk on discharge.")
    initial_admission_hazard_per_year: NonNegFloat = Field(
        le=1, description="Hazard used to seed the inpatient stock at the start (per person-year)."
    )


class Placement(Section):
    """Emergency and restrictive residential placements."""

    emergency_stay_mean_days: PosFloat = Field(le=36500, description="Mean length of an emergency placement (days).")
    restrictive_stay_mean_days: PosFloat = Field(le=36500, description="Mean length of a restrictive placement (days).")


class Assessment(Section):
    """Mental capacity assessments for people whose capacity fluctuates."""

    p_error: Frac = Field(description="Chance of wrongly finding a lack of capacity with an unknown assessor.")
    p_restrictive_given_error: Frac = Field(description="Chance a wrong finding leads to a restrictive placement.")


#: Ledger lines of ``sim.costs``, each with a payer in ``costs.payer`` (here so validation needs no higher module).
COST_LINES = (
    "staff",
    "agency_premium",
    "recruitment",
    "inpatient",
    "delayed_discharge",
    "crisis_response",
    "emergency_placement",
    "restrictive_placement",
)


class Costs(Section):
    """Unit costs (GBP at the stated price year), who pays each line and whether its savings are cashable."""

    price_year: str = Field(min_length=1, max_length=20, description="Price year of every cost (text, e.g. 2024/25).")
    social_worker_per_hour_gbp: PosFloat = Field(le=10_000, description="Social worker cost per hour.")
    advanced_practitioner_per_hour_gbp: PosFloat = Field(le=10_000, description="Advanced practitioner cost per hour.")
    paid_hours_per_fte_year: PosFloat = Field(le=8760, description="Paid working hours per FTE-year.")
    agency_premium_per_fte_year_gbp: NonNegFloat = Field(le=1e7, description="Extra cost of an agency FTE-year.")
    recruitment_per_hire_gbp: NonNegFloat = Field(le=1e7, description="Cost of filling a permanent post.")
    inpatient_per_day_gbp: NonNegFloat = Field(le=1e6, description="Inpatient bed day.")
    crisis_response_gbp: NonNegFloat = Field(le=1e7, description="Cost of a crisis response beyond staff time.")
    residential_per_day_gbp: NonNegFloat = Field(le=1e6, description="Emergency or restrictive residential day.")
    named_setup_gbp: NonNegFloat = Field(le=1e9, description="One-off cost of moving to named workers (day 0).")
    discount_rate_per_year: Annotated[float, Field(ge=0.0, le=1.0)] = Field(description="Discount rate (per year).")
    payer: dict[str, Literal["council", "nhs"]] = Field(description="Who pays each cost line.")
    cashable: dict[str, bool] = Field(description="Whether savings on each cost line are cashable.")

    @model_validator(mode="after")
    def _every_line_has_a_payer(self) -> Costs:
        problems = []
        for name, mapping in (("payer", self.payer), ("cashable", self.cashable)):
            missing = sorted(set(COST_LINES) - set(mapping))
            unknown = sorted(set(mapping) - set(COST_LINES))
            if missing:
                problems.append(f"{name}: missing {', '.join(missing)}")
            if unknown:
                problems.append(f"{name}: unknown cost lines {', '.join(unknown)} (allowed: {', '.join(COST_LINES)})")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Teams(Section):
    """Many independent teams of varied sizes run as one experiment (England scale)."""

    count: int = Field(ge=1, le=100_000, description="Number of teams (count).")
    total_people: int = Field(ge=1, le=100_000_000, description="People across all teams (count).")
    size_sigma: float = Field(ge=0, le=3, description="Spread of team sizes: standard deviation of log size.")
    min_people: int = Field(ge=1, le=1_000_000, description="Smallest team (count).")

    @model_validator(mode="after")
    def _enough_people(self) -> Teams:
        if self.count * self.min_people > self.total_people:
            raise ValueError(
                f"{self.count} teams of at least {self.min_people} need {self.count * self.min_people} people "
                f"(total_people is {self.total_people})"
            )
        return self


#: Mechanisms that can give the named arm an edge, each switched off by ``ablation``: every effect, the
#: extra capacity (``named.extra_fte``) and proactive check-ins (``named.proactive_checkins``).
MECHANISMS = (*Effects.model_fields, "extra_fte", "checkins")
#: Values of ``ablation``: every mechanism off, one off (``without_``), or only one on (``only_``).
ABLATIONS = ("all_off", *(f"without_{m}" for m in MECHANISMS), *(f"only_{m}" for m in MECHANISMS))


def mechanisms_off(ablation: str | None) -> list[str]:
    """The mechanisms an ``ablation`` value switches off (none for None)."""
    if ablation is None:
        return []
    if ablation == "all_off":
        return list(MECHANISMS)
    kind, _, mechanism = ablation.partition("_")
    return [mechanism] if kind == "without" else [m for m in MECHANISMS if m != mechanism]


def ablate(raw: dict[str, Any], ablation: str) -> dict[str, Any]:
    """A copy of a raw config with the mechanisms of ``ablation`` off (effects 0, no extra FTE, no check-ins)."""
    out = copy.deepcopy(raw)
    effects, named = out.get("effects"), out.get("named")
    for mechanism in mechanisms_off(ablation):
        if mechanism == "extra_fte" and isinstance(named, dict):
            named["extra_fte"] = 0.0
        elif mechanism == "checkins" and isinstance(named, dict):
            named["proactive_checkins"] = False
        elif isinstance(effects, dict):
            effects[mechanism] = 0.0
    return out


def _pair(value: Any) -> Any:
    """A [low, high] list from YAML as the tuple the field holds (its two numbers are still checked strictly)."""
    return tuple(value) if isinstance(value, list) else value


class Sensitivity(Section):
    """Global sensitivity analysis: one chunk of a Morris or Sobol sample of the factors, run paired."""

    method: Literal["morris", "sobol"] = Field(description="Morris screening or Sobol variance indices.")
    factors: dict[str, Annotated[tuple[float, float], BeforeValidator(_pair)]] = Field(
        min_length=1, description="Config keys varied, each with its [low, high] range (docs/parameters.md)."
    )
    sobol_factors: list[str] = Field(description="The factors the Sobol stage varies (the rest stay at defaults).")
    trajectories: int = Field(ge=2, le=10_000, description="Morris trajectories (r).")
    levels: int = Field(ge=2, le=100, description="Morris grid levels (p, even).")
    samples: int = Field(ge=2, le=2**20, description="Sobol base sample size (N, a power of 2).")
    chunks: int = Field(
        ge=1, le=100_000, description="Jobs the sample is split into (each runs every chunks-th point)."
    )
    chunk: int = Field(ge=0, le=100_000, description="This job's chunk, 0 .. chunks - 1.")

    @model_validator(mode="after")
    def _consistent(self) -> Sensitivity:
        problems = []
        for key, (low, high) in self.factors.items():
            if not low < high:
                problems.append(f"factor {key}: low {low:g} must be below high {high:g}")
        unknown = [key for key in self.sobol_factors if key not in self.factors]
        if unknown:
            problems.append(f"sobol_factors {unknown} are not among the factors")
        if self.method == "sobol" and not self.sobol_factors:
            problems.append("sobol_factors must name at least one factor for method sobol")
        if self.levels % 2:
            problems.append(f"levels must be even (got {self.levels})")
        if self.samples & (self.samples - 1):
            problems.append(f"samples must be a power of 2 (got {self.samples}; Sobol sequences need it)")
        if self.chunk >= self.chunks:
            problems.append(f"chunk {self.chunk} must be below chunks ({self.chunks})")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _flat_inputs(value: Any, prefix: str = "") -> Any:
    """Nested ``{section: {key: {dist: ..}}}`` (as in the YAML) as ``{"section.key": {dist: ..}}``; flat keys pass."""
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        dotted = f"{prefix}{key}"
        if isinstance(item, dict) and "dist" not in item:
            out.update(_flat_inputs(item, dotted + "."))
        else:
            out[dotted] = item
    return out


class InputDistribution(Section):
    """The distribution of one uncertain input, centred on the input's config value (its mean)."""

    dist: Literal["beta", "gamma", "lognormal", "normal", "fixed"] = Field(
        description="beta for probabilities and fractions, gamma or lognormal for rates, durations and costs, "
        "normal for values of either sign, fixed for definitions and decisions."
    )
    sd: float | None = Field(
        default=None, ge=0.0, description="Standard deviation, in the input's own unit (0: no uncertainty)."
    )
    lower: float | None = Field(
        default=None,
        description="Where a gamma or log-normal starts (default 0): 1 for a multiplier whose 1 means no effect.",
    )

    @model_validator(mode="after")
    def _sd_given(self) -> InputDistribution:
        if self.dist != "fixed" and self.sd is None:
            raise ValueError(f"sd is needed for a {self.dist} distribution (0 for none)")
        if self.lower is not None and self.dist not in ("gamma", "lognormal"):
            raise ValueError(f"lower is for gamma and lognormal distributions, not {self.dist}")
        return self

    def quantile(self, mean: float, u: np.ndarray | float) -> np.ndarray:
        """Values at probabilities ``u`` of this distribution with mean ``mean`` (moments matched).

        A zero sd, a fixed input or a mean at the edge of the support (``lower``, else 0, for gamma and
        log-normal; 0 or 1 for beta) gives the mean itself: no uncertainty.
        """
        from scipy.special import betaincinv, gammaincinv, ndtri

        u = np.asarray(u, dtype=float)
        sd = self.sd or 0.0
        if self.dist == "fixed" or sd == 0:
            return np.full(u.shape, float(mean))
        if self.dist == "normal":
            return mean + sd * ndtri(u)
        if self.dist == "beta":
            if not 0 < mean < 1:
                return np.full(u.shape, float(mean))
            size = mean * (1 - mean) / sd**2 - 1  # a + b
            return betaincinv(mean * size, (1 - mean) * size, u)
        start = self.lower or 0.0
        above = mean - start
        if above <= 0:
            return np.full(u.shape, float(mean))
        if self.dist == "gamma":
            return start + gammaincinv((above / sd) ** 2, u) * (sd**2 / above)
        sigma2 = np.log1p((sd / above) ** 2)  # log-normal
        return start + np.exp(np.log(above) - sigma2 / 2 + np.sqrt(sigma2) * ndtri(u))


class Uncertainty(Section):
    """Probabilistic sensitivity analysis: draws of every uncertain input, each run as a paired comparison."""

    draws: int = Field(ge=0, le=1_000_000, description="Input draws (0: no uncertainty analysis).")
    replicates_per_draw: int = Field(ge=1, le=10_000, description="Paired replicates per draw.")
    chunks: int = Field(ge=1, le=100_000, description="Jobs the draws are split into (each runs every chunks-th).")
    chunk: int = Field(ge=0, le=100_000, description="This job's chunk, 0 .. chunks - 1.")
    willingness_to_pay_gbp: NonNegFloat = Field(
        le=1e9, description="Value the council puts on one admission avoided, beyond its cost (GBP), for EVPI/EVPPI."
    )
    max_willingness_to_pay_gbp: PosFloat = Field(
        le=1e9, description="Right end of the acceptability curve (GBP per admission avoided)."
    )
    inputs: Annotated[dict[str, InputDistribution], BeforeValidator(_flat_inputs)] = Field(
        description="Uncertain inputs by config key, each with its distribution around the configured value."
    )

    @model_validator(mode="after")
    def _chunk_in_range(self) -> Uncertainty:
        if self.chunk >= self.chunks:
            raise ValueError(f"chunk {self.chunk} must be below chunks ({self.chunks})")
        return self


#: Probability in each tail of an input's distribution whose value must still be allowed (see ``Config``).
SUPPORT_CHECK = 1e-9


def distribution_problem(key: str, mean: float, spec: InputDistribution) -> str | None:
    """Why ``spec`` cannot describe an input whose configured value is ``mean`` (None if it can).

    A value at the edge of a distribution's support (an effect switched off at 0, a probability of 1) is
    not uncertain: it stays as configured, so ablations and switched-off mechanisms keep their meaning.
    """
    sd = spec.sd or 0.0
    if spec.dist == "fixed" or sd == 0:
        return None
    if spec.dist == "beta":
        if not 0 <= mean <= 1:
            return f"{key}: a beta distribution needs a value in [0, 1] (the value is {mean:g})"
        if 0 < mean < 1 and sd**2 >= mean * (1 - mean):
            return (
                f"{key}: sd {sd:g} is too wide for a beta distribution around {mean:g} "
                f"(allowed: below {(mean * (1 - mean)) ** 0.5:.4g}, the sd of a coin with that mean)"
            )
    start = spec.lower or 0.0
    if spec.dist in ("gamma", "lognormal") and mean < start:
        return f"{key}: a {spec.dist} distribution from {start:g} needs a value of at least {start:g} (it is {mean:g})"
    return None


class Config(Section):
    """A whole run: the experiment settings and every model section."""

    seed: int = Field(ge=0, le=2**63 - 1, description="Master seed of the common random numbers.")
    replicates: int = Field(ge=1, le=100_000, description="Paired replicates per arm.")
    jobs: int | None = Field(ge=1, le=4096, description="Worker processes; null means all cores.")
    horizon_years: float = Field(
        gt=0, le=200, description="Measured years after warm-up (at least one day, 1/365 year: the model counts days)."
    )
    warmup_years: float = Field(ge=0, le=200, description="Years simulated before anything is measured.")
    arms: list[str] = Field(
        min_length=1, description="Staffing systems to run side by side (registered systems: see sim.staffing.SYSTEMS)."
    )
    baseline: str = Field(min_length=1, description="The arm every other arm is compared with (one of the arms).")
    resume: bool = Field(description="Skip a job whose folder already holds results of the same config and code.")
    figures: bool = Field(description="Draw figures (and the report) in each run folder; tables are always written.")
    teams: Teams | None = Field(description="Many teams of varied sizes (null: the one team of `team`).")
    ablation: Literal[ABLATIONS] | None = Field(  # type: ignore[valid-type]
        description="Switch mechanisms off: all_off, without_<mechanism> or only_<mechanism> (null: all on)."
    )
    sensitivity: Sensitivity | None = Field(description="Run one chunk of a sensitivity analysis instead of one run.")
    uncertainty: Uncertainty
    team: Team
    population: Population
    workforce: Workforce
    named: Named
    duty: Duty
    duty_calls: DutyCalls
    hybrid: Hybrid
    switch: Switch
    effects: Effects
    life: Life
    contacts: Contacts
    crisis: Crisis
    hospital: Hospital
    placement: Placement
    assessment: Assessment
    costs: Costs

    @model_validator(mode="before")
    @classmethod
    def _apply_ablation(cls, data: Any) -> Any:
        """Switch off the mechanisms named by ``ablation`` before the values are checked."""
        if isinstance(data, dict) and data.get("ablation") in ABLATIONS:
            return ablate(data, data["ablation"])
        return data

    @model_validator(mode="after")
    def _factors_are_config_values(self) -> Config:
        """Each sensitivity factor names a number in the config, and both ends of its range are allowed there."""
        if self.sensitivity is None:
            return self
        base = self.model_dump(mode="python")
        base["sensitivity"] = None
        problems = []
        for key, bounds in self.sensitivity.factors.items():
            current = value_at(base, key)
            if isinstance(current, bool) or not isinstance(current, int | float):
                problems.append(f"sensitivity.factors: {key} is not a numeric config value")
                continue
            for bound in bounds:
                trial = copy.deepcopy(base)
                _set(trial, key, round(bound) if isinstance(current, int) else bound)
                try:
                    Config.model_validate(trial)
                except ValidationError as exc:
                    why = "; ".join(e["msg"] for e in exc.errors())
                    problems.append(f"sensitivity.factors: {key} = {bound:g} is not allowed ({why})")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _inputs_are_config_values(self) -> Config:
        """Each uncertain input names a number in the config; with draws, its distribution fits it and stays allowed.

        The distribution's extreme values (probabilities ``SUPPORT_CHECK`` and 1 - it) must both be allowed
        values of the key, so no draw of an analysis can fail validation halfway through.
        """
        inputs = self.uncertainty.inputs
        if self.uncertainty.draws:
            clashes = [
                why
                for why, clash in (
                    ("teams (one team at a time)", self.teams is not None),
                    ("sensitivity (one analysis at a time)", self.sensitivity is not None),
                    ("a single arm (there is nothing to compare)", len(set(self.arms)) < 2),
                )
                if clash
            ]
            if clashes:
                raise ValueError(f"uncertainty.draws = {self.uncertainty.draws} cannot run with " + "; ".join(clashes))
        if not inputs:
            return self
        base = self.model_dump(mode="python")
        base["sensitivity"] = None
        base["ablation"] = None  # already applied
        base["uncertainty"]["draws"] = 0  # the checks below run once, not again for each trial
        problems = []
        extremes: dict[str, tuple[int | float, list[int | float]]] = {}
        for key, spec in inputs.items():
            current = value_at(base, key)
            if isinstance(current, bool) or not isinstance(current, int | float):
                problems.append(f"uncertainty.inputs: {key} is not a numeric config value")
                continue
            if self.uncertainty.draws == 0 or spec.dist == "fixed" or not spec.sd:
                continue
            problem = distribution_problem(key, float(current), spec)
            if problem:
                problems.append(f"uncertainty.inputs: {problem}")
                continue
            ends = spec.quantile(float(current), np.array([SUPPORT_CHECK, 1 - SUPPORT_CHECK]))
            extremes[key] = (current, [round(v) if isinstance(current, int) else float(v) for v in ends])
        for side in (0, 1) if extremes else ():  # every input at its extreme at once; one by one only to name
            trial = copy.deepcopy(base)
            for key, (_, ends) in extremes.items():
                _set(trial, key, ends[side])
            if _allowed_values(trial) is None:
                continue
            for key, (current, ends) in extremes.items():
                trial = copy.deepcopy(base)
                _set(trial, key, ends[side])
                why = _allowed_values(trial)
                if why is not None:
                    spec = inputs[key]
                    problems.append(
                        f"uncertainty.inputs: {key} ({spec.dist}, mean {current:g}, sd {spec.sd:g}) can draw "
                        f"{ends[side]:g}, which is not allowed ({why}); narrow its sd or choose another distribution"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @field_validator("horizon_years")
    @classmethod
    def _at_least_a_day(cls, years: float) -> float:
        """The model counts whole days: a horizon that rounds to 0 days measures nothing."""
        if round(years * 365) < 1:
            raise ValueError(
                f"the measured horizon is {years * 365:.2g} days, which rounds to 0 days; allowed: at least 1 day "
                f"(1/365 = {1 / 365:.5f} years) and at most 200 years"
            )
        return years

    @property
    def warmup_days(self) -> int:
        """Warm-up length in whole days."""
        return round(self.warmup_years * 365)

    @property
    def horizon_days(self) -> int:
        """Measured length in whole days."""
        return round(self.horizon_years * 365)


def _allowed_values(raw: dict[str, Any]) -> str | None:
    """Why a plain config dict is not a valid config, in pydantic's words (None if it is)."""
    try:
        Config.model_validate(raw)
    except ValidationError as exc:
        return "; ".join(e["msg"] for e in exc.errors())
    return None


def value_at(tree: dict[str, Any], key: str) -> Any:
    """The value at a dotted key of a nested dict (None where there is none)."""
    node: Any = tree
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set the value at a dotted key of a nested dict (the key must exist)."""
    *parents, last = key.split(".")
    node = tree
    for part in parents:
        node = node[part]
    node[last] = value


def with_values(cfg: Config, values: dict[str, float]) -> Config:
    """``cfg`` with config values replaced by dotted key (whole-number keys rounded), validated again."""
    raw = cfg.model_dump(mode="python")
    for key, value in values.items():
        current = value_at(raw, key)
        _set(raw, key, round(value) if isinstance(current, int) and not isinstance(current, bool) else float(value))
    raw["ablation"] = None  # already applied in cfg; applying it again would undo the new values
    raw["sensitivity"] = None  # a point of a sample is an ordinary run (and its factors need no second check)
    raw["uncertainty"]["draws"] = 0  # so is a draw of an uncertainty analysis
    return validate(raw)


class ConfigError(ValueError):
    """A config that fails validation; its message lists every problem in plain words."""


def section_keys(path: tuple[str | int, ...]) -> list[str] | None:
    """The keys allowed inside the config section at ``path`` (None if ``path`` is not a section)."""
    model: type[BaseModel] = Config
    for part in path:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        options = [annotation, *typing.get_args(annotation)]  # a section may be optional (X | None)
        sections = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
        if not sections:
            return None
        model = sections[0]
    return list(model.model_fields)


def in_free_form(path: tuple[str, ...]) -> bool:
    """Whether ``path`` runs into a mapping whose keys are free (``costs.payer``, ``sensitivity.factors``)."""
    model: type[BaseModel] = Config
    for part in path:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        options = [annotation, *typing.get_args(annotation)]
        if any(typing.get_origin(a) is dict for a in options):
            return True
        sections = [a for a in options if isinstance(a, type) and issubclass(a, BaseModel)]
        if not sections:
            return False
        model = sections[0]
    return False


def _allowed(err: dict) -> str:
    """What a value may be, in words, from one pydantic error."""
    kind = err["type"]
    ctx = err.get("ctx", {})
    if kind == "extra_forbidden":
        keys = section_keys(tuple(err["loc"][:-1]))
        return "unknown key" + (f" (allowed here: {', '.join(keys)})" if keys else "")
    if kind == "missing":
        return "missing: this key needs a value"
    if kind == "literal_error":
        return f"allowed: {ctx.get('expected', '')}"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        bound = err["msg"].removeprefix("Input should be ")
        return "allowed: a number " + bound
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    strict = {
        "int_type": "a whole number",
        "float_type": "a number",
        "bool_type": "true or false",
        "string_type": "text",
    }
    if kind in strict:
        value = err.get("input")
        given = {bool: "true/false", int: "a whole number", float: "a decimal number", str: "text"}.get(
            type(value), "a list" if isinstance(value, list | tuple) else "a mapping" if isinstance(value, dict) else ""
        )
        return f"allowed: {strict[kind]}" + (f", not {given}" if given else "")
    return "allowed: " + err["msg"].removeprefix("Input should be ").removeprefix("Value error, ")


def validate(raw: dict) -> Config:
    """Validate a plain config dict; raise ConfigError naming every bad key, its value and what is allowed."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"]) or "(top level)"
            value = err.get("input")
            shown = "" if err["type"] == "missing" or not err["loc"] else f" = {value!r}"  # not the whole config
            lines.append(f"  {key}{shown}: {_allowed(err)}")
        raise ConfigError("invalid config:\n" + "\n".join(lines)) from None
