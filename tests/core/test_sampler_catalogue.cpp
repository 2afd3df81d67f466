// The sampler catalogue and the SDE descriptions: a table test over every sampler and every knob
// (defaults valid and equal to the option structs' defaults, each end of each range refused with
// the knob named, every setting round-trips through the record), and the facts each SDE states
// about itself against what its class does.
#include "model/score_model.h"
#include "sampling/correctors.h"
#include "sampling/pc_sampler.h"
#include "sampling/predictors.h"
#include "sampling/sampler_catalogue.h"
#include "sampling/sampling_settings.h"
#include "sde/sde_catalogue.h"
#include "util/error.h"

#include "gaussian_oracle.h"

#include <QtTest/QtTest>

#include <set>

using namespace sde;

namespace {

SamplingSettings defaultsOf(const SamplerDescription &sampler)
{
    SamplingSettings s;
    s.method = sampler.id;
    s.fast.solver = sampler.id;
    return s;
}

// Settings of `sampler` in which `knob` matters: the defaults, or the first choice of another
// knob that makes it matter (the ODE's step count needs a fixed-step solver).
std::optional<SamplingSettings> settingsWhereApplies(const SamplerDescription &sampler, const SamplerKnob &knob)
{
    SamplingSettings s = defaultsOf(sampler);
    if (knob.appliesTo(s))
        return s;
    for (const SamplerKnob &other : sampler.knobs) {
        if (other.kind != KnobKind::Choice)
            continue;
        for (const std::string &choice : other.choices) {
            SamplingSettings t = s;
            other.setChoice(t, choice);
            if (knob.appliesTo(t))
                return t;
        }
    }
    return std::nullopt;
}

std::string refusal(const SamplingSettings &s)
{
    try {
        checkSamplingSettings(s, [](const SamplerKnob &knob) { return knob.optionName(); });
    } catch (const Error &e) {
        return e.what();
    }
    return {};
}

} // namespace

class TestSamplerCatalogue : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void idsAreTheCatalogues()
    {
        std::vector<std::string> ids;
        std::set<std::string> seen;
        for (const SamplerDescription &d : samplerCatalogue()) {
            ids.push_back(d.id);
            QVERIFY2(seen.insert(d.id).second, d.id.c_str());
            QVERIFY(d.section == "pc" || d.section == "ode" || d.section == "fast");
            QVERIFY(!d.title.empty() && !d.summary.empty());
            QCOMPARE(findSampler(d.id), &d);
        }
        QCOMPARE(samplingMethodIds(), ids);
        QCOMPARE(ids.front(), std::string("pc"));
        QVERIFY(findSampler("magic") == nullptr);
        QVERIFY_THROWS_EXCEPTION(Error, samplerDescription("magic"));
        // The NFE a plan states, from the table: DPM-Solver++ 2S and EDM take two per step and one
        // less at the end.
        QCOMPARE(plannedNfe("dpm2m", 10), int64_t(10));
        QCOMPARE(plannedNfe("dpm2s", 5), int64_t(9));
        QCOMPARE(plannedNfe("edm", 18), int64_t(35));
        QCOMPARE(stepsForNfe("edm", 35), int64_t(18));
        QCOMPARE(plannedNfe("adaptive", 10), int64_t(0));
    }

    void everyKnob_data()
    {
        QTest::addColumn<QString>("sampler");
        QTest::addColumn<QString>("key");
        for (const SamplerDescription &d : samplerCatalogue())
            for (const SamplerKnob &k : d.knobs)
                QTest::newRow((d.id + "/" + k.key).c_str())
                    << QString::fromStdString(d.id) << QString::fromStdString(k.key);
    }

    void everyKnob()
    {
        QFETCH(QString, sampler);
        QFETCH(QString, key);
        const SamplerDescription &d = samplerDescription(sampler.toStdString());
        const SamplerKnob *knob = findKnob(d, key.toStdString());
        QVERIFY(knob);
        QVERIFY(!knob->title.empty() && !knob->help.empty());
        QVERIFY(knob->optionName().rfind("--", 0) == 0);
        QVERIFY(knob->optionName().find('_') == std::string::npos);

        // The catalogue's default is the option struct's default, and valid.
        const SamplingSettings defaults = defaultsOf(d);
        if (knob->kind == KnobKind::Choice) {
            QCOMPARE(knob->choice(defaults), knob->defaultChoice);
            QVERIFY(!knob->problem(knob->defaultChoice));
            QVERIFY(!knob->choiceTitles.size() || knob->choiceTitles.size() == knob->choices.size());
        } else {
            QCOMPARE(knob->number(defaults), knob->defaultValue);
            QVERIFY(!knob->problem(knob->defaultValue));
        }
        QCOMPARE(refusal(defaults), std::string());

        const std::optional<SamplingSettings> base = settingsWhereApplies(d, *knob);
        QVERIFY2(base, "the knob never matters");
        if (knob->kind == KnobKind::Choice) {
            const std::optional<std::string> problem = knob->problem(std::string("magic"));
            QVERIFY(problem && problem->find("not 'magic'") != std::string::npos);
            // A choice held as a string is refused by the check; one held as an enum (the ODE
            // solver) cannot be stored at all.
            SamplingSettings bad = *base;
            try {
                knob->setChoice(bad, "magic");
            } catch (const Error &e) {
                QVERIFY2(std::string(e.what()).find("magic") != std::string::npos, e.what());
                return;
            }
            const std::string message = refusal(bad);
            QVERIFY2(message.find(knob->optionName() + " must be") != std::string::npos, message.c_str());
            QVERIFY2(message.find("not 'magic'") != std::string::npos, message.c_str());
            return;
        }
        if (knob->kind == KnobKind::Flag)
            return;
        // Both ends of the range, and the values just outside them.
        for (const double value : {knob->minimumOpen ? knob->minimum + 1e-9 : knob->minimum, knob->maximum}) {
            SamplingSettings ok = *base;
            knob->setNumber(ok, value);
            if (knob->kind == KnobKind::Integer && value != std::floor(value))
                continue;
            QCOMPARE(refusal(ok), std::string());
        }
        const double below = knob->minimumOpen                 ? knob->minimum
                             : knob->kind == KnobKind::Integer ? knob->minimum - 1
                                                               : knob->minimum * 0.5 - 1e-12;
        const double above = knob->kind == KnobKind::Integer ? knob->maximum + 1 : knob->maximum * 1.5 + 1e-12;
        for (const double value : {below, above, std::numeric_limits<double>::quiet_NaN()}) {
            if (knob->zeroMeansDefault && value == 0.0)
                continue;
            if (knob->kind == KnobKind::Integer && std::isnan(value))
                continue; // an integer field cannot hold NaN
            SamplingSettings bad = *base;
            knob->setNumber(bad, value);
            const std::string message = refusal(bad);
            QVERIFY2(message.find(knob->optionName() + " must be") != std::string::npos,
                     qPrintable(QString("%1: '%2'").arg(value).arg(message.c_str())));
        }
    }

    // Every numeric knob at each end of its range keeps the arithmetic finite, on every SDE (issue
    // 18: a rho of 1e-3 overflowed the Karras grid; a tiny end time divided by a zero std). The
    // oracle's exact score makes any non-finite value the sampler's own. Every valid setting gives finite
    // samples; the refusals are in everyKnob. Step counts are run at their
    // floor only: their ceiling (100000) only makes each step finer, and would take minutes.
    void everyKnobAtItsLimitsStaysFinite_data()
    {
        QTest::addColumn<QString>("sde");
        QTest::addColumn<QString>("sampler");
        QTest::addColumn<QString>("key");
        QTest::addColumn<bool>("top");
        for (const std::string &sde : sdeNames())
            for (const SamplerDescription &d : samplerCatalogue())
                for (const SamplerKnob &k : d.knobs) {
                    if (k.kind == KnobKind::Choice || k.kind == KnobKind::Flag)
                        continue;
                    for (const bool top : {false, true}) {
                        if (top && k.key == "steps")
                            continue;
                        QTest::newRow((sde + " " + d.id + " " + k.key + (top ? " max" : " min")).c_str())
                            << QString::fromStdString(sde) << QString::fromStdString(d.id)
                            << QString::fromStdString(k.key) << top;
                    }
                }
    }
    void everyKnobAtItsLimitsStaysFinite()
    {
        QFETCH(QString, sde);
        QFETCH(QString, sampler);
        QFETCH(QString, key);
        QFETCH(bool, top);
        const SamplerDescription &d = samplerDescription(sampler.toStdString());
        const SamplerKnob &knob = *findKnob(d, key.toStdString());
        SamplingSettings s = *settingsWhereApplies(d, knob);
        s.pc.steps = 30;
        s.pc.correctorSteps = 1;
        s.fast.steps = 10;
        s.ode.ode.steps = 30;
        s.batch = 2;
        s.seed = 5;
        const double value = top ? knob.maximum : knob.minimumOpen ? knob.minimum * (1 + 1e-12) + 1e-12 : knob.minimum;
        knob.setNumber(s, value);
        // The tolerances are tried together at the end: one alone is masked by the other.
        if (key == "rtol" || key == "atol")
            for (const char *other : {"rtol", "atol"})
                findKnob(d, other)->setNumber(s, value);
        QCOMPARE(refusal(s), std::string());
        const auto model = test::oracleModel(sde.toStdString());
        SampleResult r;
        try {
            r = runSampler(*model, s);
        } catch (const Error &e) {
            // The one floor that depends on the model: the PC sampler's steps on VP and sub-VP,
            // refused before the run with the floor named (everyPcCombination).
            if (sampler == "pc" && key == "steps" &&
                std::string(e.what()).find("use at least 21 steps") != std::string::npos)
                return;
            QFAIL(qPrintable(QString("%1 = %2 was taken but the run failed: %3").arg(key).arg(value).arg(e.what())));
        }
        QVERIFY2(torch::isfinite(r.x).all().item<bool>(), qPrintable(QString("%1 = %2").arg(key).arg(value)));
    }

    // Every knob at a value other than its default comes back from the record as it was.
    void recordRoundTrip_data()
    {
        QTest::addColumn<QString>("sampler");
        for (const SamplerDescription &d : samplerCatalogue())
            QTest::newRow(d.id.c_str()) << QString::fromStdString(d.id);
    }

    void recordRoundTrip()
    {
        QFETCH(QString, sampler);
        const SamplerDescription &d = samplerDescription(sampler.toStdString());
        SamplingSettings s = defaultsOf(d);
        s.seed = 123456789;
        s.batch = 3;
        for (const SamplerKnob &k : d.knobs) {
            if (k.kind == KnobKind::Choice)
                k.setChoice(s, k.choices.back() == "none" ? k.choices.front() : k.choices.back());
            else if (k.kind == KnobKind::Flag)
                k.setNumber(s, k.defaultValue != 0.0 ? 0.0 : 1.0);
            else
                k.setNumber(s, k.kind == KnobKind::Integer ? std::floor((k.minimum + k.maximum) / 3)
                                                           : k.minimum + (k.maximum - k.minimum) / 3);
        }
        const SamplingSettings back = SamplingSettings::fromJson(s.toJson());
        QCOMPARE(back.method, s.method);
        QCOMPARE(back.seed, s.seed);
        QCOMPARE(back.batch, s.batch);
        for (const SamplerKnob &k : d.knobs) {
            if (k.kind == KnobKind::Choice)
                QCOMPARE(k.choice(back), k.choice(s));
            else
                QCOMPARE(k.number(back), k.number(s));
        }
    }

    // Which settings draw noise, from the table: the stochastic samplers, and the deterministic
    // ones whose noise knob is above 0.
    void drawsNoiseFollowsTheTable()
    {
        SamplingSettings s;
        QVERIFY(drawsNoise(s)); // pc
        s.method = "ode";
        QVERIFY(!drawsNoise(s));
        for (const char *id : {"dpm2m", "dpm3m", "dpm2s", "edm", "ddim"}) {
            s.method = id;
            QVERIFY2(!drawsNoise(s), id);
        }
        s.method = "adaptive";
        QVERIFY(drawsNoise(s));
        s.method = "ddim";
        s.fast.eta = 1.0;
        QVERIFY(drawsNoise(s));
        s.method = "edm";
        QVERIFY(!drawsNoise(s)); // eta is not EDM's
        s.fast.churn = 5.0;
        QVERIFY(drawsNoise(s));
    }

    void recordWithABadValueIsRefused()
    {
        SamplingSettings s = defaultsOf(samplerDescription("ddim"));
        Json json = s.toJson();
        json["fast"]["eta"] = 1.5;
        try {
            SamplingSettings::fromJson(json);
            QFAIL("accepted eta 1.5");
        } catch (const Error &e) {
            QVERIFY2(std::string(e.what()).find("eta must be between 0 and 1, not 1.5") != std::string::npos, e.what());
        }
    }

    // What each SDE says of itself matches the SDE a config builds.
    void sdeDescriptions()
    {
        QCOMPARE(sdeNames(), (std::vector<std::string>{"vpsde", "subvpsde", "vesde"}));
        for (const SdeDescription &d : sdeCatalogue()) {
            ModelConfig config =
                loadPreset(d.kind == Sde::Kind::Ve ? "ve/cifar10_ncsnpp_continuous" : "vp/cifar10_ddpmpp_continuous");
            config.training.sde = d.name;
            const std::unique_ptr<Sde> sde = createSde(config);
            QCOMPARE(sde->kind(), d.kind);
            QCOMPARE(sde->name(), d.name);
            QCOMPARE(&sdeDescription(d.kind), &d);
            QCOMPARE(config.samplingEps(), d.samplingEps);
            // The DDPM schedule's floor: beta_max 20 needs 21 steps.
            QCOMPARE(fewestScheduleSteps(d, 20.0), d.ddpmSchedule ? int64_t(21) : int64_t(2));
        }
        QVERIFY_THROWS_EXCEPTION(Error, sdeDescription("edmsde"));
    }

    // Sub-VP borrows the VP discretization, so a corrector or reverse diffusion below 21 steps
    // turned every pixel black (issue 18, case 1): refused, naming the floor.
    void subVpCorrectorStepFloor()
    {
        const auto model = test::oracleModel("subvpsde");
        PcSamplerOptions options;
        options.predictor = "euler_maruyama";
        options.corrector = "langevin";
        options.steps = 10;
        QCOMPARE(minimumPcSteps(model->config(), options), int64_t(21));
        try {
            pcSample(*model, 1, 0, options);
            QFAIL("sub-VP with a corrector ran at 10 steps");
        } catch (const Error &e) {
            QVERIFY2(std::string(e.what()).find("at least 21 steps") != std::string::npos, e.what());
        }
        options.corrector = "none";
        QCOMPARE(minimumPcSteps(model->config(), options), int64_t(2));
        options.steps = 21;
        options.corrector = "langevin";
        const SampleResult result = pcSample(*model, 1, 0, options);
        QVERIFY(torch::isfinite(result.samples).all().item<bool>());
        QVERIFY(result.samples.abs().max().item<double>() > 0.0);
    }

    // Issue 18, case 4: at a tiny end time the VP marginal std was 0 in float32 and every sampler
    // wrote saturated noise. Table over every sampler on VP and sub-VP at the smallest end time
    // the catalogue takes: the samples have the spread they have at the SDE's default end time
    // (the oracle's data is N(0, 0.5^2)); one below it is refused, naming the setting.
    void tinyEndTimeStaysExact_data()
    {
        QTest::addColumn<QString>("sde");
        QTest::addColumn<QString>("method");
        for (const char *sde : {"vpsde", "subvpsde"})
            for (const SamplerDescription &d : samplerCatalogue())
                QTest::newRow((std::string(sde) + " " + d.id).c_str()) << sde << QString::fromStdString(d.id);
    }
    void tinyEndTimeStaysExact()
    {
        QFETCH(QString, sde);
        QFETCH(QString, method);
        const auto model = test::oracleModel(sde.toStdString());
        SamplingSettings s = defaultsOf(samplerDescription(method.toStdString()));
        s.pc.corrector = "none";
        s.pc.steps = 100;
        s.fast.steps = 30;
        s.batch = 4;
        s.seed = 3;
        const double atDefault = runSampler(*model, s).x.std().item<double>();
        const double smallest = kSmallestEndTime;
        s.pc.eps = s.ode.eps = s.fast.eps = smallest;
        const SampleResult r = runSampler(*model, s);
        QVERIFY(torch::isfinite(r.x).all().item<bool>());
        const double std = r.x.std().item<double>();
        QVERIFY2(std::abs(std / atDefault - 1.0) < 0.1 && std::abs(std / test::kDataStd - 1.0) < 0.3,
                 qPrintable(QString("std %1 (at the default end time %2)").arg(std).arg(atDefault)));
        s.pc.eps = s.ode.eps = s.fast.eps = smallest / 2;
        try {
            checkSamplingSettings(s);
            QFAIL("an end time below the floor was taken");
        } catch (const Error &e) {
            QVERIFY2(std::string(e.what()).find("eps") != std::string::npos, e.what());
        }
    }

    // Every SDE x predictor x corrector x step count of the PC sampler either runs and gives
    // finite samples of about the data's spread (the oracle's data is N(0, 0.5^2)), or is refused
    // before the run naming the smallest step count that works (issue 18: sub-VP below 21 steps
    // wrote black images). The floor itself is a row wherever it is 2 or 21.
    void everyPcCombination_data()
    {
        QTest::addColumn<QString>("sde");
        QTest::addColumn<QString>("predictor");
        QTest::addColumn<QString>("corrector");
        QTest::addColumn<int>("steps");
        for (const std::string &sde : sdeNames())
            for (const std::string &predictor : predictorIds())
                for (const std::string &corrector : correctorIds())
                    for (const int steps : {2, 10, 20, 21, 60})
                        QTest::newRow((sde + " " + predictor + " " + corrector + " " + std::to_string(steps)).c_str())
                            << QString::fromStdString(sde) << QString::fromStdString(predictor)
                            << QString::fromStdString(corrector) << steps;
    }
    void everyPcCombination()
    {
        QFETCH(QString, sde);
        QFETCH(QString, predictor);
        QFETCH(QString, corrector);
        QFETCH(int, steps);
        const auto model = test::oracleModel(sde.toStdString());
        PcSamplerOptions options = PcSamplerOptions::fromConfig(model->config());
        options.predictor = predictor.toStdString();
        options.corrector = corrector.toStdString();
        options.steps = steps;
        options.correctorSteps = 1;
        const int64_t least = minimumPcSteps(model->config(), options);
        QVERIFY(least == 2 || least == 21);
        if (options.predictor == "ancestral_sampling" && !sdeDescription(sde.toStdString()).ancestralSampling) {
            // Refused whatever the steps, before the step count is looked at.
            try {
                pcSample(*model, 2, 0, options);
                QFAIL("ancestral sampling ran on an SDE without it");
            } catch (const Error &e) {
                QVERIFY2(std::string(e.what()).find("use reverse_diffusion or euler_maruyama") != std::string::npos,
                         e.what());
            }
            return;
        }
        if (steps < least) {
            try {
                pcSample(*model, 2, 0, options);
                QFAIL("a step count below the floor ran");
            } catch (const Error &e) {
                const std::string floor = "at least " + std::to_string(least) + " steps";
                QVERIFY2(std::string(e.what()).find(floor) != std::string::npos, e.what());
            }
            return;
        }
        const SampleResult r = pcSample(*model, 2, 0, options);
        QVERIFY(torch::isfinite(r.x).all().item<bool>());
        const double std = r.x.std().item<double>();
        QVERIFY2(std > 0.0, "every sample is the same");
        // Few steps are valid but coarse (Euler-Maruyama at 2 VE steps leaves std 400), and
        // corrector-only sampling (no predictor) stays near the prior; with a predictor and 20
        // steps or more the spread is the data's within a factor of 2.
        if (steps >= 20 && options.predictor != "none")
            QVERIFY2(std > test::kDataStd / 2 && std < test::kDataStd * 2, qPrintable(QString("std %1").arg(std)));
    }
};

QTEST_GUILESS_MAIN(TestSamplerCatalogue)
#include "test_sampler_catalogue.moc"
