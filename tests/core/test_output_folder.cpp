// A run's output folder (OutputFolder): a second run into it is refused, the temporaries of killed
// writes are cleaned, an empty folder the run created is removed; a batch is written all or none.
#include "util/error.h"
#include "util/files.h"

#include "test_support.h"

#include <QtTest/QtTest>

#include <filesystem>
#include <functional>
#include <unistd.h>

using namespace sde;
namespace fs = std::filesystem;

namespace {

QString errorOf(const std::function<void()> &run)
{
    try {
        run();
    } catch (const Error &e) {
        return e.what();
    }
    return "no error";
}

void plant(const std::string &path, const std::string &content = "x")
{
    writeFileAtomically(path, content);
}

} // namespace

class TestOutputFolder : public QObject {
    Q_OBJECT
private Q_SLOTS:
    // A second holder is refused, naming the folder and the holder's process; once the first
    // lets go, the folder can be taken again and no lock file is left in it.
    void secondRunIsRefused()
    {
        const std::string dir = test::makeTempDir() + "/out";
        const QString inUse = QString("the folder '%1' is in use by another run (process %2); wait for it to finish "
                                      "or choose another folder")
                                  .arg(QString::fromStdString(dir))
                                  .arg(::getpid());
        {
            OutputFolder first(dir);
            // flock locks belong to an open file, so a second open in this process conflicts too.
            QCOMPARE(errorOf([&] { OutputFolder second(dir); }), inUse);
            QVERIFY(fs::exists(dir)); // the refused run does not remove the holder's folder
        }
        QVERIFY(!fs::exists(dir + "/" + OutputFolder::kLockFileName));
        QCOMPARE(errorOf([&] { OutputFolder again(dir); }), QString("no error"));
    }

    // A killed run leaves its lock file with its process id, but the kernel has released its lock.
    void lockOfAKilledRunIsFree()
    {
        const std::string dir = test::makeTempDir();
        plant(dir + "/" + OutputFolder::kLockFileName, "999999999\n");
        QCOMPARE(errorOf([&] { OutputFolder folder(dir); }), QString("no error"));
    }

    // The folders a run created (parents and subfolders too) are removed when it wrote nothing
    // into them; a folder that holds a result stays, and one that existed before is kept.
    void emptyFoldersItCreatedAreRemoved()
    {
        const std::string base = test::makeTempDir();
        {
            OutputFolder folder(base + "/new/deeper");
            QCOMPARE(folder.subfolder("trajectory"), base + "/new/deeper/trajectory");
        }
        QVERIFY(!fs::exists(base + "/new"));
        QVERIFY(fs::exists(base));
        {
            OutputFolder folder(base + "/kept");
            folder.subfolder("trajectory");
            plant(folder.path() + "/sample-1.png");
        }
        QVERIFY(fs::exists(base + "/kept/sample-1.png"));
        QVERIFY(!fs::exists(base + "/kept/trajectory"));
        QVERIFY(!fs::exists(base + "/kept/" + OutputFolder::kLockFileName));
        {
            OutputFolder folder(base); // existed: kept although empty of results
        }
        QVERIFY(fs::exists(base));
    }

    // writeFileAtomically's temporaries, left by killed writes, are removed on opening (also in
    // direct subfolders, not deeper); files that only look alike are not.
    void temporariesOfKilledWritesAreRemoved()
    {
        const std::string dir = test::makeTempDir();
        fs::create_directories(dir + "/samples/deeper");
        const std::vector<std::string> ours = {dir + "/sample-1.png.sdestudio-tmp-Ab12Cd",
                                               dir + "/samples/step-00000010.png.sdestudio-tmp-q9Z0xY"};
        const std::vector<std::string> others = {dir + "/notes.sdestudio-tmp-Ab12C", dir + "/x.png.tmp-Ab12Cd",
                                                 dir + "/.sdestudio-tmp-Ab12Cd", dir + "/a.sdestudio-tmp-Ab12C!",
                                                 dir + "/samples/deeper/b.png.sdestudio-tmp-Ab12Cd"};
        for (const std::string &path : ours)
            plant(path);
        for (const std::string &path : others)
            plant(path);
        QVERIFY(isTemporaryFileName("sample-1.png.sdestudio-tmp-Ab12Cd"));

        OutputFolder folder(dir);
        std::vector<std::string> removed = folder.removedTemporaries();
        std::sort(removed.begin(), removed.end());
        QCOMPARE(removed, ours);
        for (const std::string &path : ours)
            QVERIFY2(!fs::exists(path), path.c_str());
        for (const std::string &path : others)
            QVERIFY2(fs::exists(path), path.c_str());
    }

    // A batch whose third file cannot be written (a folder holds its name) removes the two it
    // wrote and says so; nothing, not even a temporary, is left.
    void batchIsWrittenAllOrNone()
    {
        const std::string dir = test::makeTempDir();
        fs::create_directories(dir + "/c.png/inside");
        const std::vector<FileContents> files = {
            {dir + "/a.png", "a"}, {dir + "/b.png", "b"}, {dir + "/c.png", "c"}, {dir + "/d.png", "d"}};
        QCOMPARE(errorOf([&] { writeFilesAtomically(files); }),
                 QString("cannot write '%1/c.png': Is a directory; the 2 file(s) written before it were removed")
                     .arg(QString::fromStdString(dir)));
        std::vector<std::string> left;
        for (const auto &entry : fs::directory_iterator(dir))
            left.push_back(entry.path().filename().string());
        QCOMPARE(left, std::vector<std::string>{"c.png"});

        fs::remove_all(dir + "/c.png");
        QCOMPARE(errorOf([&] { writeFilesAtomically(files); }), QString("no error"));
        QVERIFY(fs::exists(dir + "/d.png"));
    }
};

QTEST_GUILESS_MAIN(TestOutputFolder)
#include "test_output_folder.moc"
