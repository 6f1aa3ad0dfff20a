// Plain data the background jobs hand to the widgets. No QObject here: these
// travel between threads inside shared_ptrs and are read-only once built.
#pragma once

#include <QImage>
#include <QString>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/audit/findings.h"
#include "core/loader/loader.h"
#include "core/pipeline/pipeline.h"
#include "ui/render/render.h"

namespace bs {
struct Finding;  // core/audit/anomaly.h
}  // namespace bs

namespace bs::ui {

// One row of the anomalies list: a core finding (core/audit/findings.h
// declares every kind and its severity) translated for the widgets, one row
// per sample it names.
struct Finding {
    bs::Severity severity = bs::Severity::Warning;
    QString kind;         // a kind declared in core/audit/findings.h
    qint64 batch = -1;    // batch number in the epoch, -1 when not about one batch
    qint64 index = -1;    // dataset index, -1 when about the whole batch/dataset
    int stageNumber = 0;  // transform blamed, numbered from 1; 0 = not a transform
    QString stageName;    // core's stage name ("4:Normalize", "decode", "collate")
    QString message;
    QString path;
};

// The inspector's default worker count: one per core, at most 4. Workers
// change only how soon a batch is ready, never its values (the audit's
// self-check proves that), so the viewer need not copy num_workers=0; with
// the one thread of 0 workers, stepping waits on a single core.
int defaultLoaderWorkers();

struct LoaderSettings {
    int batchSize = 16;
    bool shuffle = false;
    quint64 seed = 0;
    qint64 epoch = 0;
    int workers = defaultLoaderWorkers();
    bool operator==(const LoaderSettings& o) const {
        return batchSize == o.batchSize && shuffle == o.shuffle && seed == o.seed &&
               epoch == o.epoch && workers == o.workers;
    }
};

// How the user wants tensors shown; the concrete numbers are resolved per
// sample/batch into a DisplayRange.
struct DisplaySettings {
    DisplayRange::Mode mode = DisplayRange::Mode::Expected;
    double manualLo = 0, manualHi = 1;
    int solo = -1;
    bool overlay = false;
    int stage = -1;  // stage value shown: 0 = decoded input, k = after transform k, -1 = last
};

// Expected value range of every channel before the first stage (index 0) and
// after each stage k (index k).
using ChannelRanges = std::array<bs::ValueRange, 3>;
std::vector<ChannelRanges> expectedRanges(const bs::Pipeline& pipeline, bool rawInput);

// The concrete mapping for a tensor, given the user's choice.
// `sampleMin/Max` and `batchMin/Max` are per-channel finite min/max (NaN when
// a channel has no finite value).
DisplayRange resolveRange(const DisplaySettings& d, const ChannelRanges& expected,
                          const QString& stageLabel, const std::vector<double>& sampleMin,
                          const std::vector<double>& sampleMax,
                          const std::vector<double>* batchMin = nullptr,
                          const std::vector<double>* batchMax = nullptr);
// The expected range as a DisplayRange (Mode::Expected); false when unknown.
bool expectedDisplay(const ChannelRanges& expected, DisplayRange& out);
// "stage 3 Normalize" / "input" label for stage value k (0 = input).
QString stageLabel(const bs::Pipeline& pipeline, size_t k);

struct BatchView {
    quint64 config = 0;
    size_t number = 0;
    size_t numBatches = 0;
    std::shared_ptr<const bs::Batch> batch;
    // Every sample of the batch (Loader::batch's `kept`), in the order of
    // batch->samples: the one computation the judge, the sample view and the
    // thumbnails' targets read. Each keeps the stage values the judge reads;
    // the sample at `wholeIndex` (the row selected when the batch was asked
    // for) keeps all of them for the sample view, which computes any other
    // sample it is asked for on its own. Null once the batch is far from the
    // one in view (memory).
    std::shared_ptr<const std::vector<bs::SampleResult>> results;
    std::optional<size_t> wholeIndex;
    // Per entry of batch->samples (failed samples get an error tile), each
    // rendered once with the display settings, overlay included when on.
    std::vector<QImage> thumbs;
    bool thumbsOverlaid = false;
    std::vector<int> findingCount;
    ChannelExtent extent;             // of the whole batch, joined from the rows
    std::vector<ChannelExtent> rows;  // per row of batch->data
    ChannelHistograms histogram;
    DisplayRange range;
    std::vector<Finding> findings;  // core's verdict on the batch, once judged
    bool judged = false;
};

// Best-known expected range of one stage value and where it comes from
// (ui/model/stagerange.h computes them).
struct StageRange {
    ChannelRanges range;
    bool known = false;
    QString origin;  // "expected range after stage 3 ToTensor", "what stage 5 Normalize expects"
};

struct SampleView {
    quint64 config = 0;
    size_t index = 0;  // dataset index
    std::shared_ptr<const bs::SampleResult> result;
    std::vector<ChannelRanges> ranges;  // per stage, as expectedRanges()
    std::vector<StageRange> best;       // per stage, as bestKnownRanges()
    int stage = -1;                     // stage value shown (index into result->stages)
    QString stageName;                  // stageLabel() of it
    bs::Tensor shown;                   // that stage value as a float tensor
    QImage raw;
    QImage tensor;  // rendered with `range` and the overlay/solo settings
    OverlayCounts counts;
    DisplayRange range;
    ChannelHistograms rawHistogram, tensorHistogram;
    std::vector<QImage> strip;
    std::vector<QString> stripLabels;
    QString error;
};

// Maps a point of the final tensor (pixel-centre coordinates: pixel i has its
// centre at i, as Transform::mapToInput) back to the raw image through every stage's mapToInput.
// False when it lands in padding or the sample has no stages.
bool mapTensorToRaw(const bs::Pipeline& pipeline, const bs::SampleResult& sample, double& x,
                    double& y);

// Converts the anomaly engine's grouped findings (core/audit/anomaly.h) into
// rows: one per listed sample (the engine caps the list), or one for the
// group when it names no sample. `batchOf` gives the batch of a dataset index
// (nullopt when unknown).
std::vector<Finding> fromEngineFindings(
    const std::vector<bs::Finding>& engineFindings,
    const std::function<std::optional<size_t>(size_t)>& batchOf);

}  // namespace bs::ui
