#include "util/error.h"
#include "util/json.h"

#include <QtTest/QtTest>

#include <cmath>

using sde::Json;

class TestJson : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void parsesNestedDocument()
    {
        Json doc = Json::parse("{\"a\": [1, 2.5, -3e2], \"b\": {\"c\": \"x\\ny\", \"d\": true, \"e\": null}}");
        QCOMPARE(doc.at("a").size(), size_t(3));
        QCOMPARE(doc.at("a").at(1).asDouble(), 2.5);
        QCOMPARE(doc.at("a").at(2).asInt(), int64_t(-300));
        QCOMPARE(doc.at("b").at("c").asString(), std::string("x\ny"));
        QVERIFY(doc.at("b").at("d").asBool());
        QVERIFY(doc.at("b").at("e").isNull());
        // Objects keep their order.
        QCOMPARE(doc.asObject().front().first, std::string("a"));
    }

    void roundTripsThroughDump()
    {
        const std::string text = "{\"name\":\"ve/cifar10\",\"list\":[0.1,1e-05,12345678901,\"\\u00e9\\\"q\"],\"flag\":false}";
        Json doc = Json::parse(text);
        Json again = Json::parse(doc.dump());
        QCOMPARE(again.dump(), doc.dump());
        QCOMPARE(again.at("list").at(1).asDouble(), 1e-05);
        QCOMPARE(again.at("list").at(2).asInt(), int64_t(12345678901));
        QCOMPARE(again.at("list").at(3).asString(), std::string("\xc3\xa9\"q"));
        // Doubles are written with enough digits to read back exactly.
        const double third = 1.0 / 3.0;
        QCOMPARE(Json::parse(Json(third).dump()).asDouble(), third);
    }

    void readsPythonNonFiniteNumbers()
    {
        Json doc = Json::parse("[NaN, Infinity, -Infinity]");
        QVERIFY(std::isnan(doc.at(0).asDouble()));
        QVERIFY(std::isinf(doc.at(1).asDouble()) && doc.at(1).asDouble() > 0);
        QVERIFY(doc.at(2).asDouble() < 0);
    }

    void reportsErrorPosition_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("expected");
        QTest::newRow("truncated") << "{\"a\": [1, 2" << "line 1";
        QTest::newRow("bad token") << "{\n  \"a\": tru\n}" << "line 2";
        QTest::newRow("trailing") << "{} x" << "unexpected text";
        QTest::newRow("unterminated string") << "\"abc" << "unterminated";
        QTest::newRow("missing colon") << "{\"a\" 1}" << "expected ':'";
    }

    void reportsErrorPosition()
    {
        QFETCH(QString, text);
        QFETCH(QString, expected);
        try {
            Json::parse(text.toStdString());
            QFAIL("parsing should have failed");
        } catch (const sde::Error &e) {
            QVERIFY2(QString(e.what()).contains(expected), e.what());
        }
    }

    void typeErrorsNameTheTypes()
    {
        Json doc = Json::parse("{\"n\": 1.5, \"s\": \"x\"}");
        QVERIFY_THROWS_EXCEPTION(sde::Error, doc.at("n").asInt());
        QVERIFY_THROWS_EXCEPTION(sde::Error, doc.at("s").asDouble());
        try {
            doc.at("missing");
            QFAIL("expected an error");
        } catch (const sde::Error &e) {
            QVERIFY(QString(e.what()).contains("missing"));
        }
    }
};

QTEST_GUILESS_MAIN(TestJson)
#include "test_json.moc"
