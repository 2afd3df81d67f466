// The fast samplers (DPM-Solver++ 2M/3M/2S, EDM Heun, DDIM, adaptive reverse SDE): for Gaussian
// data the probability-flow map is known in closed form, x_0 = x_T * s / sqrt(a(T)^2 s^2 + std(T)^2),
// so the deterministic ones are checked sample by sample against it, and the stochastic ones by
// the distribution they produce. Also NFE counts, the step budget, reproducibility, batch
// independence, the callback, cancellation and the settings record.
#include "io/model_file.h"
#include "model/score_model.h"
#include "sampling/fast_samplers.h"
#include "sampling/noise_schedule.h"
#include "sampling/sampling_settings.h"
#include "util/error.h"

#include "fixture_model.h"
#include "gaussian_oracle.h"
#include "test_support.h"

#include <QtTest/QtTest>

#include <limits>

using namespace sde;
using sde::test::kDataStd;
using sde::test::oracleModel;

namespace {

// The exact end of the probability-flow ODE from the prior sample the sampler draws.
torch::Tensor exactFlowEnd(const ScoreModel &model, int64_t batch, uint64_t seed, double temperature = 1.0)
{
    std::vector<int64_t> shape = model.sampleShape();
    shape.insert(shape.begin(), batch);
    NoiseStreams streams(seed, batch);
    torch::Tensor prior =
        streams.randn(shape, torch::TensorOptions().dtype(torch::kFloat32)) * (model.sde().priorStd() * temperature);
    NoiseSchedule schedule(model.sde());
    const double a = schedule.alpha(1.0);
    const double s = schedule.sigma(1.0);
    return prior * (kDataStd / std::sqrt(a * a * kDataStd * kDataStd + s * s));
}

double flowError(const std::string &sde, const std::string &solver, int64_t nfe, const std::string &grid)
{
    auto model = oracleModel(sde);
    FastSamplerOptions options;
    options.solver = solver;
    options.grid = grid;
    options.steps = stepsForNfe(solver, nfe);
    SampleResult r = fastSample(*model, 8, 5, options);
    return (r.x - exactFlowEnd(*model, 8, 5)).abs().max().item<double>() / kDataStd;
}

} // namespace

class TestFastSamplers : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void scheduleInvertsItsLogSnr_data()
    {
        QTest::addColumn<QString>("sde");
        QTest::newRow("ve") << "vesde";
        QTest::newRow("vp") << "vpsde";
        QTest::newRow("subvp") << "subvpsde";
    }
    void scheduleInvertsItsLogSnr()
    {
        QFETCH(QString, sde);
        auto model = oracleModel(sde.toStdString());
        NoiseSchedule schedule(model->sde());
        for (double t : {1e-3, 0.01, 0.3, 0.77, 1.0}) {
            const double back = schedule.timeOf(schedule.lambda(t));
            QVERIFY2(std::abs(back - t) < 1e-9, qPrintable(QString("t %1 came back as %2").arg(t).arg(back)));
        }
        // x_t = a x0 + std z: the schedule is the SDE's own kernel.
        const torch::Tensor t = torch::full({1}, 0.4, torch::kFloat64);
        QCOMPARE(schedule.alpha(0.4), model->sde().meanCoefficient(t).item<double>());
        QCOMPARE(schedule.sigma(0.4), model->sde().marginalStd(t).item<double>());
    }

    void deterministicSamplersFollowTheExactFlow_data()
    {
        QTest::addColumn<QString>("sde");
        QTest::addColumn<QString>("solver");
        QTest::addColumn<QString>("grid");     // the DPM-Solver++ time grid
        QTest::addColumn<double>("order");     // the least observed order of convergence
        QTest::addColumn<double>("tolerance"); // the worst error at 60 NFE, relative to the data std
        struct Row {
            const char *solver, *grid;
            double order, tolerance;
        };
        // On the Karras grid 3M's error changes sign near 20 NFE for this data (1e-3 at 20, 2e-3
        // at 60, 1e-4 at 120 on VP), so two points give no order (0: not checked), only a size.
        const Row rows[] = {{"dpm2m", "logsnr", 1.6, 0.02},  {"dpm3m", "logsnr", 2.4, 0.01},
                            {"dpm2s", "logsnr", 1.6, 0.05},  {"dpm2m", "karras", 1.6, 0.03},
                            {"dpm3m", "karras", 0.0, 0.005}, {"dpm2s", "karras", 1.6, 0.05},
                            {"edm", "", 1.6, 0.1},           {"ddim", "", 0.9, 0.2}};
        for (const char *sde : {"vpsde", "subvpsde", "vesde"})
            for (const Row &row : rows)
                QTest::newRow(qPrintable(QString("%1 %2 %3").arg(sde, row.solver, row.grid).trimmed()))
                    << sde << row.solver << (*row.grid ? row.grid : "logsnr") << row.order << row.tolerance;
    }
    void deterministicSamplersFollowTheExactFlow()
    {
        QFETCH(QString, sde);
        QFETCH(QString, solver);
        QFETCH(QString, grid);
        QFETCH(double, order);
        QFETCH(double, tolerance);
        const std::string id = solver.toStdString();
        const double at20 = flowError(sde.toStdString(), id, 20, grid.toStdString());
        const double at60 = flowError(sde.toStdString(), id, 60, grid.toStdString());
        // Steps of the grid, each 1/(steps - 1) of the way: the error falls as (1/(steps - 1))^order.
        const double ratio =
            static_cast<double>(stepsForNfe(id, 60) - 1) / static_cast<double>(stepsForNfe(id, 20) - 1);
        const double observed = std::log(at20 / at60) / std::log(ratio);
        qInfo("%s %s (%s grid): worst error / data std %.2e at 20 NFE, %.2e at 60: order %.2f", qPrintable(sde),
              qPrintable(solver), qPrintable(grid), at20, at60, observed);
        if (order > 0.0)
            QVERIFY2(observed >= order, qPrintable(QString("order %1 < %2").arg(observed).arg(order)));
        QVERIFY2(at60 <= tolerance, qPrintable(QString("error %1 at 60 NFE").arg(at60)));
    }

    // The grid's times, as the callback reports them: the log-SNR grid is uniform in
    // lambda = log(alpha / sigma), the Karras grid uniform in (sigma / alpha)^(1/rho); both run
    // from T to the last time eps (1e-3 for VP).
    void gridsPlaceTheirSteps_data()
    {
        QTest::addColumn<QString>("grid");
        QTest::newRow("logsnr") << "logsnr";
        QTest::newRow("karras") << "karras";
    }
    void gridsPlaceTheirSteps()
    {
        QFETCH(QString, grid);
        auto model = oracleModel("vpsde");
        const NoiseSchedule schedule(model->sde());
        FastSamplerOptions options;
        options.solver = "dpm2m";
        options.grid = grid.toStdString();
        options.rho = 5.0;
        options.steps = 9;
        std::vector<double> times;
        fastSample(*model, 1, 0, options, [&](const SamplerStep &step) { times.push_back(step.t); });
        QCOMPARE(times.size(), size_t(9));
        QCOMPARE(times.front(), 1.0);
        QCOMPARE(times.back(), 1e-3);
        // Each time's coordinate on the grid's own axis: equal steps along it.
        auto coordinate = [&](double t) {
            const double level = schedule.sigma(t) / schedule.alpha(t);
            return grid == "karras" ? std::pow(level, 1.0 / options.rho) : std::log(1.0 / level);
        };
        const double first = coordinate(times.front());
        const double step = (coordinate(times.back()) - first) / 8.0;
        for (size_t i = 0; i < times.size(); ++i)
            QVERIFY2(std::abs(coordinate(times[i]) - (first + step * static_cast<double>(i))) < 1e-6 * std::abs(step),
                     qPrintable(QString("time %1 of the %2 grid: %3").arg(i).arg(grid).arg(times[i])));
        // Against the log-SNR grid the Karras grid spends more of its steps at high noise and
        // takes longer log-SNR strides at low noise: its middle time is the later one.
        if (grid == "karras") {
            FastSamplerOptions logSnr = options;
            logSnr.grid = "logsnr";
            std::vector<double> other;
            fastSample(*model, 1, 0, logSnr, [&](const SamplerStep &s) { other.push_back(s.t); });
            QVERIFY2(times[4] > other[4], qPrintable(QString("%1 vs %2").arg(times[4]).arg(other[4])));
        }
    }

    void stochasticSamplersRecoverGaussianData_data()
    {
        QTest::addColumn<QString>("sde");
        QTest::addColumn<QString>("solver");
        QTest::newRow("vp ddim eta 1") << "vpsde"
                                       << "ddim";
        QTest::newRow("ve ddim eta 1") << "vesde"
                                       << "ddim";
        QTest::newRow("vp edm churn") << "vpsde"
                                      << "edm";
        QTest::newRow("ve adaptive") << "vesde"
                                     << "adaptive";
        QTest::newRow("subvp adaptive") << "subvpsde"
                                        << "adaptive";
    }
    void stochasticSamplersRecoverGaussianData()
    {
        QFETCH(QString, sde);
        QFETCH(QString, solver);
        auto model = oracleModel(sde.toStdString());
        FastSamplerOptions options;
        options.solver = solver.toStdString();
        options.steps = solver == "ddim" ? 500 : 50; // ancestral sampling is first order: many steps
        options.eta = 1.0;
        options.churn = 40.0;
        SampleResult r = fastSample(*model, 256, 11, options);
        QVERIFY(r.completed);
        const double std = r.x.std().item<double>();
        const double mean = r.x.mean().item<double>();
        qInfo("%s %s: std %.4f (data %.2f), mean %.4f, %lld NFE", qPrintable(sde), qPrintable(solver), std, kDataStd,
              mean, static_cast<long long>(r.nfe));
        QVERIFY2(std::abs(std - kDataStd) < 0.03 * kDataStd, qPrintable(QString("std %1").arg(std)));
        QVERIFY2(std::abs(mean) < 0.02, qPrintable(QString("mean %1").arg(mean)));
        // Not the deterministic flow: fresh noise moved every sample off it.
        QVERIFY((r.x - exactFlowEnd(*model, 256, 11)).abs().max().item<double>() > 0.1);
    }

    void evaluationsStayWithinTheBudget()
    {
        auto model = oracleModel("vpsde");
        for (const std::string &solver : fastSolverIds()) {
            if (solver == "adaptive")
                continue;
            for (int64_t nfe : {5, 10, 20, 50}) {
                FastSamplerOptions options;
                options.solver = solver;
                options.steps = stepsForNfe(solver, nfe);
                SampleResult r = fastSample(*model, 2, 0, options);
                QCOMPARE(r.nfe, plannedNfe(solver, options.steps));
                QVERIFY2(r.nfe <= nfe && r.nfe >= nfe - 1,
                         qPrintable(QString("%1 at budget %2 took %3").arg(solver.c_str()).arg(nfe).arg(r.nfe)));
            }
        }
        // The adaptive sampler: two evaluations per try and one at the end; tighter tolerances
        // take more of them.
        FastSamplerOptions loose;
        loose.solver = "adaptive";
        loose.rtol = 0.1;
        FastSamplerOptions tight = loose;
        tight.rtol = 0.01;
        tight.atol = 0.001;
        const int64_t looseNfe = fastSample(*model, 2, 0, loose).nfe;
        const int64_t tightNfe = fastSample(*model, 2, 0, tight).nfe;
        QCOMPARE(looseNfe % 2, int64_t(1));
        QVERIFY2(tightNfe > looseNfe, qPrintable(QString("%1 vs %2").arg(tightNfe).arg(looseNfe)));
    }

    void reproducibleAndIndependentOfTheBatch_data()
    {
        QTest::addColumn<QString>("solver");
        QTest::newRow("dpm3m") << "dpm3m";
        QTest::newRow("ddim eta 1") << "ddim";
        QTest::newRow("edm churn") << "edm";
        QTest::newRow("adaptive") << "adaptive";
    }
    void reproducibleAndIndependentOfTheBatch()
    {
        QFETCH(QString, solver);
        LoadedModel loaded = test::fixtureModel("ncsnpp_ve_small");
        FastSamplerOptions options;
        options.solver = solver.toStdString();
        options.steps = 4;
        options.eta = 1.0;
        options.churn = 10.0;
        options.rtol = options.atol = 0.5; // a handful of tries on the random-weight fixture
        SampleResult a = fastSample(*loaded.model, 3, 42, options);
        SampleResult b = fastSample(*loaded.model, 3, 42, options);
        QVERIFY(torch::equal(a.samples, b.samples));
        QVERIFY(torch::isfinite(a.samples).all().item<bool>());
        SampleResult alone = fastSample(*loaded.model, 1, 44, options);
        SDE_COMPARE_TENSORS(alone.samples[0], a.samples[2], 1e-4, "batch independence");
        SampleResult other = fastSample(*loaded.model, 3, 43, options);
        QVERIFY(!torch::allclose(a.samples, other.samples));
    }

    void callbackSeesEveryStepAndCancelStopsWithinOne()
    {
        auto model = oracleModel("vpsde");
        for (const std::string &solver : fastSolverIds()) {
            FastSamplerOptions options;
            options.solver = solver;
            options.steps = 10;
            CancelToken cancel;
            std::vector<int64_t> seen;
            SampleResult r = fastSample(
                *model, 2, 3, options,
                [&](const SamplerStep &step) {
                    seen.push_back(step.step);
                    QVERIFY(torch::isfinite(step.denoised()).all().item<bool>());
                    if (solver != "adaptive")
                        QCOMPARE(step.totalSteps, int64_t(10));
                    if (step.step == 3)
                        cancel.cancel();
                },
                &cancel);
            QVERIFY2(!r.completed, solver.c_str());
            QCOMPARE(r.steps, int64_t(3));
            QCOMPARE(seen, (std::vector<int64_t>{1, 2, 3}));
        }
    }

    void settingsRecordAndRunTheFastSamplers()
    {
        SamplingSettings settings;
        settings.method = "edm";
        settings.fast.steps = 12;
        settings.fast.churn = 5.0;
        settings.fast.rho = 5.0;
        settings.fast.temperature = 0.9;
        settings.seed = 17;
        settings.batch = 2;
        const SamplingSettings back = SamplingSettings::fromJson(parseJson(dumpJson(settings.toJson())));
        QCOMPARE(back.method, std::string("edm"));
        QCOMPARE(back.fast.steps, int64_t(12));
        QCOMPARE(back.fast.churn, 5.0);
        QCOMPARE(back.fast.rho, 5.0);
        QCOMPARE(back.temperature(), 0.9);
        QCOMPARE(describeSettings(back),
                 std::string("EDM Heun, 12 steps (23 NFE), rho 5, churn 5, temperature 0.9, seed 17"));

        // The DPM-Solver++ grid is recorded; a record from before it was a setting ran on log-SNR.
        SamplingSettings dpm = settings;
        dpm.method = "dpm3m";
        dpm.fast.grid = "karras";
        const SamplingSettings dpmBack = SamplingSettings::fromJson(parseJson(dumpJson(dpm.toJson())));
        QCOMPARE(dpmBack.fast.grid, std::string("karras"));
        QCOMPARE(describeSettings(dpmBack),
                 std::string("DPM-Solver++ 3M, 12 steps (12 NFE), Karras grid (rho 5), temperature 0.9, seed 17"));
        Json old = dpm.toJson();
        Json oldFast = Json::object();
        for (const auto &[key, value] : old.at("fast").items())
            if (key != "grid")
                oldFast[key] = value;
        old["fast"] = oldFast;
        QCOMPARE(SamplingSettings::fromJson(old).fast.grid, std::string("logsnr"));
        Json badGrid = dpm.toJson();
        badGrid["fast"]["grid"] = "cosine";
        QVERIFY_THROWS_EXCEPTION(Error, SamplingSettings::fromJson(badGrid));

        // runSampler dispatches on the method; the temperature scales the prior (deterministic
        // flow of Gaussian data: the result scales with it).
        auto model = oracleModel("vpsde");
        settings.method = "dpm2m";
        settings.fast.steps = 20;
        settings.fast.grid = "logsnr"; // the closer of the two grids on this data at 20 NFE (see above)
        SampleResult r = runSampler(*model, settings);
        QCOMPARE(r.nfe, int64_t(20));
        const double error = (r.x - exactFlowEnd(*model, 2, 17, 0.9)).abs().max().item<double>();
        QVERIFY2(error < 0.06, qPrintable(QString("error %1").arg(error)));

        Json bad = settings.toJson();
        bad["method"] = "dpm9";
        QVERIFY_THROWS_EXCEPTION(Error, SamplingSettings::fromJson(bad));
    }

    // The seed goes through toJson/fromJson exactly at the limits of uint64; anything that is not
    // such an integer is refused naming the key.
    void settingsKeepTheSeedExact_data()
    {
        QTest::addColumn<quint64>("seed");
        QTest::newRow("0") << quint64(0);
        QTest::newRow("2^53 + 1") << quint64(9007199254740993ull);
        QTest::newRow("10^17") << quint64(100000000000000000ull);
        QTest::newRow("2^64 - 1") << quint64(std::numeric_limits<uint64_t>::max());
    }

    void settingsKeepTheSeedExact()
    {
        QFETCH(quint64, seed);
        SamplingSettings settings;
        settings.method = "dpm2m";
        settings.seed = seed;
        settings.fast.steps = 100000; // the most the catalogue allows; integers stay integers
        const std::string text = dumpJson(settings.toJson());
        QVERIFY2(text.find("\"seed\":" + std::to_string(seed) + ",") != std::string::npos, text.c_str());
        const SamplingSettings back = SamplingSettings::fromJson(parseJson(text));
        QCOMPARE(back.seed, static_cast<uint64_t>(seed));
        QCOMPARE(back.fast.steps, int64_t(100000));
        QCOMPARE(dumpJson(back.toJson()), text);
    }

    void settingsRefuseBadSeedsAndSteps_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("value");
        QTest::newRow("negative seed") << "seed"
                                       << "-1";
        QTest::newRow("fractional seed") << "seed"
                                         << "1.5";
        QTest::newRow("seed 2^64") << "seed"
                                   << "18446744073709551616";
        QTest::newRow("seed as text") << "seed"
                                      << "\"7\"";
        QTest::newRow("missing seed") << "seed"
                                      << "";
        QTest::newRow("fractional batch") << "batch"
                                          << "2.5";
        QTest::newRow("fractional steps") << "fast.steps"
                                          << "12.5";
        QTest::newRow("steps beyond int64") << "fast.steps"
                                            << "9223372036854775808";
        QTest::newRow("steps 2^53 + 1") << "fast.steps"
                                        << "9007199254740993";
    }

    void settingsRefuseBadSeedsAndSteps()
    {
        QFETCH(QString, key);
        QFETCH(QString, value);
        SamplingSettings settings;
        settings.method = "edm";
        Json json = settings.toJson();
        Json &section = key.startsWith("fast.") ? json["fast"] : json;
        const std::string name = key.startsWith("fast.") ? key.mid(5).toStdString() : key.toStdString();
        if (value.isEmpty())
            section.erase(name);
        else
            section[name] = parseJson(value.toStdString());
        try {
            SamplingSettings::fromJson(json);
            QFAIL("the settings were accepted");
        } catch (const Error &e) {
            QVERIFY2(QString(e.what()).contains(key), e.what());
        }
    }

    void refusesBadOptions()
    {
        auto model = oracleModel("vesde");
        FastSamplerOptions options;
        options.solver = "leapfrog";
        QVERIFY_THROWS_EXCEPTION(Error, fastSample(*model, 1, 0, options));
        options.solver = "dpm2m";
        options.steps = 1;
        QVERIFY_THROWS_EXCEPTION(Error, fastSample(*model, 1, 0, options));
        options.steps = 10;
        options.solver = "ddim"; // eta is DDIM's knob (the catalogue checks a sampler's own knobs)
        options.eta = 2.0;
        QVERIFY_THROWS_EXCEPTION(Error, fastSample(*model, 1, 0, options));
        options.solver = "dpm2m";
        options.eta = 0.0;
        options.temperature = 0.0;
        QVERIFY_THROWS_EXCEPTION(Error, fastSample(*model, 1, 0, options));
        options.temperature = 1.0;
        QVERIFY_THROWS_EXCEPTION(Error, fastSample(*model, 0, 0, options));
        options.grid = "cosine";
        QVERIFY_THROWS_EXCEPTION(Error, fastSample(*model, 1, 0, options));
        options.grid = "karras";
        options.rho = 0.0;
        QVERIFY_THROWS_EXCEPTION(Error, fastSample(*model, 1, 0, options));
        options.rho = 7.0;
        options.solver = "adaptive";
        options.rtol = 0.0;
        QVERIFY_THROWS_EXCEPTION(Error, fastSample(*model, 1, 0, options));
    }
};

QTEST_GUILESS_MAIN(TestFastSamplers)
#include "test_fast_samplers.moc"
