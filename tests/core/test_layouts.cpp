// Every official config builds a network whose state dict is exactly the reference's: the same
// keys in the same order, shapes, dtypes and parameter count (layouts recorded from the reference).
#include "config/presets.h"
#include "nets/score_network.h"
#include "util/files.h"
#include "util/json_fields.h"

#include "test_support.h"

#include <QDirIterator>
#include <QtTest/QtTest>

using namespace sde;

namespace {

std::string dtypeName(torch::Dtype dtype)
{
    switch (dtype) {
    case torch::kFloat32:
        return "float32";
    case torch::kFloat64:
        return "float64";
    default:
        return c10::toString(dtype);
    }
}

} // namespace

class TestLayouts : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void matchesReferenceLayout_data()
    {
        QTest::addColumn<QString>("name");
        const QString root = QString::fromStdString(test::dataDir() + "/reference/layouts");
        QDirIterator it(root, {"*.json"}, QDir::Files, QDirIterator::Subdirectories);
        QStringList names;
        while (it.hasNext()) {
            QString path = it.next();
            names << path.mid(root.size() + 1).chopped(5);
        }
        names.sort();
        QCOMPARE(names.size(), 27);
        for (const QString &name : names)
            QTest::newRow(qPrintable(name)) << name;
    }

    void matchesReferenceLayout()
    {
        QFETCH(QString, name);
        Json reference = parseJson(readFile(test::dataDir() + "/reference/layouts/" + name.toStdString() + ".json"));
        ModelConfig config = loadPreset(name.toStdString());
        int64_t parameters = 0;
        std::vector<TensorLayout> layout = networkLayout(config, &parameters);

        const Json &expected = reference.at("state_dict");
        QCOMPARE(layout.size(), expected.size());
        size_t i = 0;
        for (const auto &[name, entry] : expected.items()) {
            const std::string key = name.substr(std::string("module.").size());
            QVERIFY2(layout[i].name == key, qPrintable(QString("entry %1: %2, reference %3")
                                                           .arg(i)
                                                           .arg(QString::fromStdString(layout[i].name))
                                                           .arg(QString::fromStdString(key))));
            std::vector<int64_t> shape;
            for (const Json &d : entry.at("shape"))
                shape.push_back(d.get<int64_t>());
            QVERIFY2(layout[i].shape == shape, qPrintable(QString::fromStdString(key + ": shape differs")));
            QCOMPARE(dtypeName(layout[i].dtype), entry.at("dtype").get<std::string>());
            ++i;
        }
        QCOMPARE(parameters, reference.at("parameters").get<int64_t>());
    }
};

QTEST_GUILESS_MAIN(TestLayouts)
#include "test_layouts.moc"
