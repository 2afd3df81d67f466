// A run's output folder (OutputFolder): a second run into it is refused, the temporaries of killed
// writes are cleaned, an empty folder the run created is removed; a batch is written all or none.
#include "util/error.h"
#include "util/files.h"

#include "error_of.h"
#include "test_support.h"

#include <QtTest/QtTest>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <sys/stat.h>
#include <unistd.h>

using namespace sde;
using sde::test::errorOf;
namespace fs = std::filesystem;

namespace {

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

    // A batch whose third file cannot be written leaves every target as it was: the older a.png
    // keeps its bytes, nothing new appears, not even a temporary.
    void batchIsWrittenAllOrNone()
    {
        const std::string dir = test::makeTempDir();
        const auto left = [&] {
            std::vector<std::string> names;
            for (const auto &entry : fs::directory_iterator(dir))
                names.push_back(entry.path().filename().string());
            std::sort(names.begin(), names.end());
            return names;
        };
        writeFileAtomically(dir + "/a.png", "older a");
        // The third file's folder does not exist: its temporary cannot be created.
        std::vector<FileContents> files = {
            {dir + "/a.png", "a"}, {dir + "/b.png", "b"}, {dir + "/gone/c.png", "c"}, {dir + "/d.png", "d"}};
        QCOMPARE(errorOf([&] { writeFilesAtomically(files); }),
                 QString("cannot create a temporary file beside '%1/gone/c.png': No such file or directory")
                     .arg(QString::fromStdString(dir)));
        QCOMPARE(left(), std::vector<std::string>{"a.png"});
        QCOMPARE(readFile(dir + "/a.png"), std::string("older a"));

        // A folder holds the third file's name: refused before any byte is written.
        fs::create_directories(dir + "/c.png/inside");
        files[2].path = dir + "/c.png";
        QCOMPARE(errorOf([&] { writeFilesAtomically(files); }),
                 QString("cannot write '%1/c.png': it is a folder, not a file").arg(QString::fromStdString(dir)));
        QCOMPARE(left(), (std::vector<std::string>{"a.png", "c.png"}));
        QCOMPARE(readFile(dir + "/a.png"), std::string("older a"));

        fs::remove_all(dir + "/c.png");
        QCOMPARE(errorOf([&] { writeFilesAtomically(files); }), QString("no error"));
        QCOMPARE(left(), (std::vector<std::string>{"a.png", "b.png", "c.png", "d.png"}));
        QCOMPARE(readFile(dir + "/a.png"), std::string("a"));
    }

    // A target that exists and is not a regular file is refused, not replaced.
    void nonFileTargetIsRefused()
    {
        const std::string dir = test::makeTempDir();
        const std::string fifo = dir + "/out.png";
        QCOMPARE(::mkfifo(fifo.c_str(), 0600), 0);
        QCOMPARE(errorOf([&] { writeFileAtomically(fifo, "x"); }),
                 QString("cannot write '%1': it is a FIFO, not a file").arg(QString::fromStdString(fifo)));
        QCOMPARE(errorOf([&] { writeFileAtomically("/dev/null", "x"); }),
                 QString("cannot write '/dev/null': it is a character device, not a file"));
        struct stat info {};
        QCOMPARE(::stat(fifo.c_str(), &info), 0);
        QVERIFY(S_ISFIFO(info.st_mode));
    }
};

QTEST_GUILESS_MAIN(TestOutputFolder)
#include "test_output_folder.moc"
