#include "ui/compare/compareview.h"

#include <QAction>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QMenu>
#include <QMenuBar>
#include <QPainter>
#include <QPointer>
#include <QProgressBar>
#include <QSplitter>
#include <QStatusBar>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/compare/compare.h"
#include "ui/compare/dumpsession.h"
#include "ui/model/model.h"
#include "ui/render/render.h"
#include "ui/widgets/imageview.h"
#include "ui/widgets/windowparts.h"

namespace bs::ui {

namespace {

constexpr int kRoleBatch = Qt::UserRole;
constexpr int kRoleRow = Qt::UserRole + 1;
constexpr int kThumb = 56;

QPixmap gradientPixmap(int w, int h) {
    QImage img(w, h, QImage::Format_RGB32);
    for (int x = 0; x < w; ++x) {
        const QRgb c = heatColor(double(x) / (w - 1));
        for (int y = 0; y < h; ++y) img.setPixel(x, y, c);
    }
    return QPixmap::fromImage(img);
}

QString vecText(const bs::Tensor& t, size_t pixel, size_t plane, int channels) {
    QStringList parts;
    for (int c = 0; c < channels; ++c) {
        const size_t i = size_t(c) * plane + pixel;
        if (i < t.values.size()) parts << formatNumber(t.values[i]);
    }
    return parts.size() == 1 ? parts.front() : QStringLiteral("(") + parts.join(", ") + ")";
}

}  // namespace

CompareView::CompareView(QWidget* parent)
    : QMainWindow(parent),
      model_(new DumpSession(this)),
      readouts_(QStringLiteral("Hover a pixel for its values.")) {
    setWindowTitle(QStringLiteral("batchscope — compare"));
    buildUi();
    connect(model_, &DumpSession::opened, this, &CompareView::onOpened);
    connect(model_, &DumpSession::openFailed, this, &CompareView::onOpenFailed);
    connect(model_, &DumpSession::sampleReady, this, &CompareView::onSampleReady);
    connect(model_, &DumpSession::thumbsReady, this, &CompareView::onThumbsReady);
    connect(model_, &DumpSession::reportProgress, this, [this](qulonglong done, qulonglong total) {
        progress_->setRange(0, int(total));
        progress_->setValue(int(done));
    });
    connect(model_, &DumpSession::reportReady, this, &CompareView::onReportReady);
}

CompareView::~CompareView() = default;

bool CompareView::isDumpFolder(const QString& path) {
    const QFileInfo dir(path);
    if (!dir.isDir()) return false;
    QFile f(QDir(dir.absoluteFilePath()).filePath(QStringLiteral("manifest.json")));
    if (f.size() > (64 << 20) || !f.open(QIODevice::ReadOnly)) return false;
    const QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
    return o.value(QStringLiteral("format")).toString() == QStringLiteral("batchscope-dump") ||
           (o.value(QStringLiteral("batches")).isArray() &&
            o.value(QStringLiteral("dataset")).isObject());
}

CompareView* CompareView::openDump(const QString& dir, QWidget* owner) {
    CompareView* v =
        owner ? owner->findChild<CompareView*>(QString(), Qt::FindDirectChildrenOnly) : nullptr;
    if (!v) {
        v = new CompareView(owner);
        v->resize(1500, 950);
    }
    v->open(dir);
    v->show();
    v->raise();
    v->activateWindow();
    return v;
}

void CompareView::buildUi() {
    auto* central = new QWidget;
    auto* outer = new QVBoxLayout(central);
    outer->setContentsMargins(6, 6, 6, 6);
    header_ = selectableLabel(QStringLiteral("No dump open."));
    header_->setWordWrap(true);
    outer->addWidget(header_);
    outer->addWidget(readouts_.error);

    QSplitter* top = splitPair(Qt::Horizontal, buildBatchLists(), buildViews(), 0, 1, {300, 1200});
    outer->addWidget(splitPair(Qt::Vertical, top, buildFindingsPane(), 3, 1), 1);
    setCentralWidget(central);

    connectSelections();
    buildMenus();
    statusBar()->showMessage(QStringLiteral("Open a folder written by batchscope_dump.py."));
}

// Left: batches of the dump, samples of the batch.
QWidget* CompareView::buildBatchLists() {
    batches_ = new QListWidget;
    batches_->setToolTip(QStringLiteral("Dumped batches (Left/Right to step)"));
    samples_ = new QListWidget;
    samples_->setIconSize(QSize(kThumb, kThumb));
    samples_->setToolTip(QStringLiteral("Samples of the batch (Up/Down to step)"));
    return splitPair(Qt::Vertical, batches_, samples_, 1, 3);
}

// Centre: the three views and what they show.
QWidget* CompareView::buildViews() {
    auto* centre = new QWidget;
    auto* cl = new QVBoxLayout(centre);
    cl->setContentsMargins(0, 0, 0, 0);
    auto* views = new QHBoxLayout;
    userView_ = new ImageView(QStringLiteral("user's tensor (dump)"));
    reproView_ = new ImageView(QStringLiteral("batchscope's reproduction"));
    diffView_ = new ImageView(QStringLiteral("|difference|"));
    for (ImageView* v : {userView_, reproView_, diffView_}) {
        v->setMinimumSize(200, 200);
        views->addWidget(v, 1);
        connect(v, &ImageView::viewChanged, this, [this, v] { syncViews(v); });
        connect(v, &ImageView::hovered, this, [this](QPointF p, bool in) { onHover(p, in); });
    }
    cl->addLayout(views, 1);
    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(QStringLiteral("Range:")));
    rangeMode_ = new QComboBox;
    rangeMode_->addItems({QStringLiteral("min/max of both tensors"),
                          QStringLiteral("expected range of the pipeline")});
    controls->addWidget(rangeMode_);
    controls->addWidget(new QLabel(QStringLiteral("Channel:")));
    channel_ = new QComboBox;
    channel_->addItems({QStringLiteral("all"), QStringLiteral("0 (R)"), QStringLiteral("1 (G)"),
                        QStringLiteral("2 (B)")});
    controls->addWidget(channel_);
    auto* grad = new QLabel;
    grad->setPixmap(gradientPixmap(120, 12));
    controls->addSpacing(16);
    controls->addWidget(grad);
    controls->addWidget(readouts_.legend);
    controls->addStretch(1);
    cl->addLayout(controls);
    diffLabel_ = selectableLabel(QStringLiteral("—"));
    diffLabel_->setWordWrap(true);
    QFont bold = diffLabel_->font();
    bold.setBold(true);
    diffLabel_->setFont(bold);
    cl->addWidget(diffLabel_);
    cl->addWidget(readouts_.range);
    cl->addWidget(readouts_.probe);

    return centre;
}

// Bottom: the findings of the whole comparison.
QWidget* CompareView::buildFindingsPane() {
    auto* bottom = new QWidget;
    auto* bl = new QVBoxLayout(bottom);
    bl->setContentsMargins(0, 0, 0, 0);
    progress_ = new QProgressBar;
    progress_->setFormat(QStringLiteral("comparing %v / %m samples"));
    progress_->hide();
    bl->addWidget(progress_);
    findings_ = new QTreeWidget;
    findings_->setHeaderLabels({QStringLiteral("Severity"), QStringLiteral("Kind"),
                                QStringLiteral("Stage"), QStringLiteral("Count"),
                                QStringLiteral("Message")});
    findings_->setRootIsDecorated(true);
    findings_->setUniformRowHeights(true);
    findings_->header()->setStretchLastSection(true);
    findings_->setColumnWidth(0, 80);
    findings_->setColumnWidth(1, 190);
    findings_->setColumnWidth(2, 110);
    findings_->setColumnWidth(3, 60);
    bl->addWidget(findings_);

    return bottom;
}

void CompareView::connectSelections() {
    connect(batches_, &QListWidget::currentRowChanged, this, [this](int r) {
        if (r >= 0 && size_t(r) != batch_) goToBatch(r);
    });
    connect(samples_, &QListWidget::currentRowChanged, this, [this](int r) {
        if (r >= 0 && r != row_) selectRow(r);
    });
    connect(findings_, &QTreeWidget::currentItemChanged, this,
            [this](QTreeWidgetItem* item) { onFindingActivated(item); });
    connect(rangeMode_, &QComboBox::currentIndexChanged, this, [this] { requestSample(); });
    connect(channel_, &QComboBox::currentIndexChanged, this, [this] { requestSample(); });
}

void CompareView::buildMenus() {
    QMenu* file = menuBar()->addMenu(QStringLiteral("&File"));
    file->addAction(QStringLiteral("Open &Dump Folder…"), this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, QStringLiteral("Open dump"));
        if (!d.isEmpty()) open(d);
    });
    file->addAction(QStringLiteral("Use Dataset &Root…"), this, [this] {
        const QString d =
            QFileDialog::getExistingDirectory(this, QStringLiteral("Dataset root for the dump"));
        if (!d.isEmpty() && !dir_.isEmpty()) open(dir_, pipelineFile_, d);
    });
    file->addAction(QStringLiteral("Use &Pipeline File…"), this, [this] {
        const QString f = QFileDialog::getOpenFileName(
            this, QStringLiteral("Pipeline (printed Compose, JSON or TorchScript)"));
        if (!f.isEmpty() && !dir_.isEmpty()) open(dir_, f, datasetRoot_);
    });
    file->addSeparator();
    QAction* close = file->addAction(QStringLiteral("&Close"), this, &QWidget::close);
    close->setShortcut(QKeySequence::Close);

    QMenu* go = menuBar()->addMenu(QStringLiteral("&Go"));
    auto add = [&](const QString& text, QList<QKeySequence> keys, auto slot) {
        QAction* a = go->addAction(text);
        a->setShortcuts(keys);
        a->setShortcutContext(Qt::WindowShortcut);
        connect(a, &QAction::triggered, this, slot);
    };
    add(QStringLiteral("Next Batch"), {Qt::Key_Right, Qt::Key_PageDown}, &CompareView::nextBatch);
    add(QStringLiteral("Previous Batch"), {Qt::Key_Left, Qt::Key_PageUp},
        &CompareView::previousBatch);
    add(QStringLiteral("First Batch"), {Qt::Key_Home}, [this] { goToBatch(0); });
    add(QStringLiteral("Last Batch"), {Qt::Key_End}, [this] { goToBatch(int(numBatches()) - 1); });
    add(QStringLiteral("Next Sample"), {Qt::Key_Down}, [this] { selectRow(row_ + 1); });
    add(QStringLiteral("Previous Sample"), {Qt::Key_Up}, [this] { selectRow(row_ - 1); });
    QMenu* view = menuBar()->addMenu(QStringLiteral("&View"));
    view->addAction(QStringLiteral("Zoom In"), QKeySequence(Qt::Key_Plus),
                    [this] { userView_->zoomIn(); });
    view->addAction(QStringLiteral("Zoom Out"), QKeySequence(Qt::Key_Minus),
                    [this] { userView_->zoomOut(); });
    view->addAction(QStringLiteral("Fit"), QKeySequence(Qt::Key_F),
                    [this] { userView_->fitToView(); });
    view->addAction(QStringLiteral("Actual Pixels (1:1)"), QKeySequence(Qt::Key_1),
                    [this] { userView_->oneToOne(); });
}

void CompareView::syncViews(ImageView* from) {
    if (syncing_) return;
    syncing_ = true;
    for (ImageView* v : {userView_, reproView_, diffView_})
        if (v != from) v->syncFrom(from);
    syncing_ = false;
}

bool CompareView::hasSession() const {
    return bool(model_->core());
}

bool CompareView::reportReady() const {
    return bool(model_->report());
}

bool CompareView::idle() const {
    return model_->idle();
}

size_t CompareView::numBatches() const {
    return model_->numBatches();
}

int64_t CompareView::shownIndex() const {
    return model_->shown() ? model_->shown()->index : -1;
}

std::vector<int64_t> CompareView::listedIndices() const {
    std::vector<int64_t> out;
    for (int i = 0; i < samples_->count(); ++i)
        out.push_back(samples_->item(i)->data(kRoleRow + 1).toLongLong());
    return out;
}

double CompareView::shownMaxAbs() const {
    return model_->shown() && model_->shown()->compared ? model_->shown()->diff.maxAbs
                                                        : std::numeric_limits<double>::quiet_NaN();
}
double CompareView::shownMeanAbs() const {
    return model_->shown() && model_->shown()->compared ? model_->shown()->diff.meanAbs
                                                        : std::numeric_limits<double>::quiet_NaN();
}
std::vector<int64_t> CompareView::shownArgmax() const {
    return model_->shown() && model_->shown()->compared ? model_->shown()->diff.argmax
                                                        : std::vector<int64_t>{};
}

void CompareView::showError(const QString& message) {
    readouts_.error->showMessage(message);
}

void CompareView::open(const QString& dir, const QString& pipelineFile,
                       const QString& datasetRoot) {
    dir_ = QFileInfo(dir).absoluteFilePath();
    pipelineFile_ = pipelineFile;
    datasetRoot_ = datasetRoot;
    showError(QString());
    setWindowTitle(QStringLiteral("batchscope — compare %1").arg(dir_));
    header_->setText(QStringLiteral("Opening %1…").arg(dir_));
    thumbs_.clear();
    batches_->clear();
    samples_->clear();
    findings_->clear();
    progress_->hide();
    for (ImageView* v : {userView_, reproView_, diffView_}) {
        v->setImage(QImage());
        v->setPlaceholder(QStringLiteral("opening…"));
        v->setMarker(std::nullopt);
    }
    diffLabel_->setText(QStringLiteral("—"));
    model_->open(dir_, pipelineFile, datasetRoot);
}

void CompareView::onOpenFailed(const QString& message) {
    header_->setText(QStringLiteral("Cannot open the dump."));
    showError(message + QStringLiteral("\nFile ▸ Use Dataset Root… or Use Pipeline File… "
                                       "can point to the data or the transform."));
    for (ImageView* v : {userView_, reproView_, diffView_}) v->setPlaceholder(QStringLiteral("—"));
}

void CompareView::onOpened() {
    const auto& m = model_->core()->manifest();
    QString text =
        QStringLiteral(
            "<b>%1</b> · dataset %2 at %3 (%4 samples) · pipeline from %5 · %6 "
            "batches of %7 · %8 workers · seed %9 · tolerance %10")
            .arg(QString::fromStdString(m.dir).toHtmlEscaped(),
                 QString::fromStdString(m.datasetClass).toHtmlEscaped(),
                 QString::fromStdString(datasetRoot_.isEmpty() ? m.datasetRoot
                                                               : datasetRoot_.toStdString())
                     .toHtmlEscaped(),
                 QString::number(model_->core()->dataset().size()),
                 QString::fromStdString(model_->core()->pipelineSource()).toHtmlEscaped(),
                 QString::number(m.batches.size()), QString::number(m.batchSize),
                 QString::number(m.numWorkers), QString::number(m.seed))
            .arg(formatNumber(model_->core()->options().tolerance));
    for (const auto& u : model_->core()->unknownStages())
        text += QStringLiteral(
                    "<br><span style='color:#ffd54f'>stage %1 %2 cannot be "
                    "reproduced: replace it with an expression or a TorchScript "
                    "file (File ▸ Use Pipeline File…)</span>")
                    .arg(u.position)
                    .arg(QString::fromStdString(u.name).toHtmlEscaped());
    if (model_->core()->unknownStages().empty() && !model_->core()->reproducible())
        text += QStringLiteral(
            "<br><span style='color:#ffd54f'>random pipeline: pixels differ by design; "
            "the comparison checks shapes, ranges and repeated augmentation</span>");
    header_->setText(text);
    batch_ = 0;
    row_ = 0;
    fillBatches();
    fillSamples();
    requestThumbs();
    requestSample();
    startReport();
    Q_EMIT opened();
}

void CompareView::fillBatches() {
    QSignalBlocker block(batches_);
    batches_->clear();
    if (!model_->core()) return;
    const auto& m = model_->core()->manifest();
    std::map<size_t, int> bad;  // divergent samples per manifest batch
    if (model_->report()) {
        const double tol = model_->core()->options().tolerance;
        for (const auto& sc : model_->report()->samples)
            if (!sc.error.empty() || (sc.pixelCompared && !sc.diff.within(tol)) ||
                sc.matchedIndex >= 0)
                ++bad[sc.batch];
    }
    for (size_t b = 0; b < m.batches.size(); ++b) {
        const auto& info = m.batches[b];
        QString t = QStringLiteral("%1 · epoch %2 · batch %3 (%4)")
                        .arg(QString::fromStdString(info.variant))
                        .arg(info.epoch)
                        .arg(info.batch)
                        .arg(info.indices.size());
        auto* item = new QListWidgetItem(t);
        if (bad.count(b)) {
            item->setText(t + QStringLiteral(" — %1 differ").arg(bad[b]));
            item->setForeground(QColor(255, 110, 100));
        } else if (model_->report()) {
            item->setForeground(QColor(140, 210, 140));
        }
        batches_->addItem(item);
    }
    batches_->setCurrentRow(int(batch_));
}

void CompareView::fillSamples() {
    QSignalBlocker block(samples_);
    samples_->clear();
    if (!model_->core() || batch_ >= numBatches()) return;
    const auto& info = model_->core()->manifest().batches[batch_];
    std::map<size_t, const bs::SampleComparison*> byRow;
    if (model_->report())
        for (const auto& sc : model_->report()->samples)
            if (sc.batch == batch_) byRow[sc.row] = &sc;
    for (size_t r = 0; r < info.indices.size(); ++r) {
        QString t = QStringLiteral("row %1 · index %2").arg(r).arg(info.indices[r]);
        if (r < info.labels.size()) t += QStringLiteral(" · label %1").arg(info.labels[r]);
        if (r < info.workers.size())
            t += info.workers[r] < 0 ? QStringLiteral(" · main process")
                                     : QStringLiteral(" · worker %1").arg(info.workers[r]);
        auto* item = new QListWidgetItem(t);
        item->setData(kRoleRow, int(r));
        item->setData(kRoleRow + 1, qlonglong(info.indices[r]));
        if (auto it = byRow.find(r); it != byRow.end()) {
            const auto& sc = *it->second;
            if (!sc.error.empty()) {
                item->setText(t + QStringLiteral("\nerror: ") + QString::fromStdString(sc.error));
                item->setForeground(QColor(255, 110, 100));
            } else if (sc.pixelCompared) {
                const bool ok = sc.diff.within(model_->core()->options().tolerance);
                item->setText(t + QStringLiteral("\nmax |Δ| %1").arg(formatNumber(sc.diff.maxAbs)) +
                              (sc.matchedIndex >= 0
                                   ? QStringLiteral(" · matches index %1").arg(sc.matchedIndex)
                                   : QString()));
                item->setForeground(ok ? QColor(140, 210, 140) : QColor(255, 110, 100));
            }
        }
        if (model_->thumbsBatch() == batch_ && r < thumbs_.size()) item->setIcon(thumbs_[r]);
        samples_->addItem(item);
    }
    if (row_ >= samples_->count()) row_ = std::max(0, samples_->count() - 1);
    samples_->setCurrentRow(row_);
}

void CompareView::goToBatch(int b) {
    if (!model_->core() || b < 0 || size_t(b) >= numBatches()) return;
    batch_ = size_t(b);
    {
        QSignalBlocker block(batches_);
        batches_->setCurrentRow(b);
    }
    fillSamples();
    requestThumbs();
    requestSample();
}

void CompareView::nextBatch() {
    if (batch_ + 1 < numBatches()) goToBatch(int(batch_ + 1));
}

void CompareView::previousBatch() {
    if (batch_ > 0) goToBatch(int(batch_ - 1));
}

void CompareView::selectRow(int row) {
    if (!model_->core() || row < 0 || row >= samples_->count()) return;
    row_ = row;
    {
        QSignalBlocker block(samples_);
        samples_->setCurrentRow(row);
    }
    requestSample();
}

void CompareView::requestSample() {
    model_->requestSample(batch_, row_, channel_->currentIndex() - 1,
                          rangeMode_->currentIndex() == 1);
}

void CompareView::onSampleReady() {
    auto out = model_->shown();
    if (!out) return;
    const int solo = channel_->currentIndex() - 1;
    auto put = [](ImageView* view, const QImage& img, const QString& why) {
        if (img.isNull()) {
            view->setImage(QImage());
            view->setPlaceholder(why);
        } else {
            view->setImage(img);
        }
    };
    put(userView_, out->userImage, out->userError);
    put(reproView_, out->reproImage, out->reproError);
    put(diffView_, out->heatImage, out->note.isEmpty() ? QStringLiteral("—") : out->note);
    userView_->setCaption(QStringLiteral("index %1 · %2")
                              .arg(out->index)
                              .arg(QString::fromStdString(bs::shapeToString(out->user.shape))));
    reproView_->setCaption(QStringLiteral("index %1 · epoch %2").arg(out->index).arg(out->epoch));
    std::optional<QPointF> marker;
    QString text;
    if (out->compared) {
        const auto& d = out->diff;
        const auto& am = d.argmax;
        QString where;
        if (am.size() >= 3) {
            where = QStringLiteral("channel %1, y %2, x %3")
                        .arg(am[am.size() - 3])
                        .arg(am[am.size() - 2])
                        .arg(am[am.size() - 1]);
            marker = QPointF(double(am[am.size() - 1]) + 0.5, double(am[am.size() - 2]) + 0.5);
        } else {
            QStringList c;
            for (auto a : am) c << QString::number(a);
            where = QStringLiteral("[") + c.join(", ") + "]";
        }
        const double tol = model_->core()->options().tolerance;
        text = QStringLiteral(
                   "index %1 (batch %2, row %3): max |Δ| %4 at %5 · mean |Δ| "
                   "%6 · %7 of %8 values over %9 — %10")
                   .arg(out->index)
                   .arg(out->batch)
                   .arg(out->row)
                   .arg(formatNumber(d.maxAbs), where, formatNumber(d.meanAbs))
                   .arg(d.over)
                   .arg(d.numel)
                   .arg(formatNumber(tol))
                   .arg(d.within(tol) ? QStringLiteral("matches") : QStringLiteral("DIFFERS"));
        diffLabel_->setStyleSheet(d.within(tol) ? QStringLiteral("color: #8bd48b;")
                                                : QStringLiteral("color: #ff8a80;"));
        diffView_->setCaption(QStringLiteral("max over %1 · white = %2")
                                  .arg(solo >= 0 ? QStringLiteral("channel %1").arg(solo)
                                                 : QStringLiteral("channels"),
                                       formatNumber(out->heatHi)));
        readouts_.legend->setText(QStringLiteral("|Δ| 0 → %1").arg(formatNumber(out->heatHi)));
    } else {
        text = QStringLiteral("index %1: not compared%2")
                   .arg(out->index)
                   .arg(out->note.isEmpty() ? QString() : QStringLiteral(" (") + out->note + ")");
        diffLabel_->setStyleSheet(QString());
        readouts_.legend->clear();
    }
    if (!out->userError.isEmpty()) text += QStringLiteral(" · dump: ") + out->userError;
    if (!out->reproError.isEmpty()) text += QStringLiteral(" · reproduction: ") + out->reproError;
    diffLabel_->setText(text);
    readouts_.range->setText(out->range.describe());
    for (ImageView* view : {userView_, reproView_, diffView_}) view->setMarker(marker);
    syncViews(userView_);
    Q_EMIT sampleShown();
}

void CompareView::requestThumbs() {
    model_->requestThumbs(batch_);
}

void CompareView::onThumbsReady() {
    if (model_->thumbsBatch() != batch_) return;
    // Kept: the list is rebuilt when the report arrives.
    thumbs_.clear();
    for (const QImage& t : model_->thumbs()) thumbs_.push_back(QPixmap::fromImage(t));
    for (int i = 0; i < samples_->count() && size_t(i) < thumbs_.size(); ++i)
        samples_->item(i)->setIcon(thumbs_[size_t(i)]);
}

void CompareView::startReport() {
    progress_->setRange(0, 0);
    progress_->show();
    model_->startReport();
}

void CompareView::onReportReady() {
    auto report = model_->report();
    progress_->hide();
    fillFindings();
    fillBatches();
    fillSamples();
    const nlohmann::json sum =
        report->summary.is_object() ? report->summary : nlohmann::json::object();
    statusBar()->showMessage(
        QStringLiteral("Compared %1 samples (%2 pixel by pixel): %3 match; findings: %4.")
            .arg(sum.value("samples", 0))
            .arg(sum.value("pixel_compared", 0))
            .arg(sum.value("matching", 0))
            .arg(qulonglong(report->findings.size())));
    Q_EMIT reportFinished();
}

void CompareView::fillFindings() {
    QSignalBlocker block(findings_);
    findings_->clear();
    if (!model_->report() || !model_->core()) return;
    const auto& m = model_->core()->manifest();
    // Where a finding's sample is in the dump: same variant and batch number
    // when the finding says so, else the first batch holding the index.
    auto locate = [&m](const bs::FindingSample& fs, size_t& b, int& row) {
        const auto& d = fs.detail;
        const std::string variant =
            d.is_object() && d.contains("variant") && d["variant"].is_string()
                ? d["variant"].get<std::string>()
                : std::string();
        const int64_t batchNo =
            d.is_object() && d.contains("batch") && d["batch"].is_number_integer()
                ? d["batch"].get<int64_t>()
                : -1;
        for (size_t i = 0; i < m.batches.size(); ++i) {
            const auto& info = m.batches[i];
            if (!variant.empty() && info.variant != variant) continue;
            if (batchNo >= 0 && info.batch != batchNo) continue;
            for (size_t r = 0; r < info.indices.size(); ++r)
                if (info.indices[r] == int64_t(fs.index)) {
                    b = i;
                    row = int(r);
                    if (d.is_object() && d.contains("row") && d["row"].is_number_integer())
                        row = d["row"].get<int>();
                    return true;
                }
        }
        return false;
    };
    // Indexed by bs::Severity: info, warning, error.
    static const QColor sevColor[] = {QColor(140, 180, 255), QColor(255, 200, 90),
                                      QColor(255, 110, 100)};
    for (const auto& f : model_->report()->findings) {
        auto* top =
            new QTreeWidgetItem({QString::fromStdString(bs::severityName(f.severity)),
                                 QString::fromStdString(f.kind), QString::fromStdString(f.stage),
                                 QString::number(f.count), QString::fromStdString(f.message)});
        top->setToolTip(4, QString::fromStdString(f.message));
        const int sev = std::clamp(int(f.severity), 0, 2);
        top->setForeground(0, sevColor[sev]);
        top->setData(0, kRoleBatch, -1);
        for (const auto& fs : f.samples) {
            size_t b = 0;
            int row = 0;
            const bool found = locate(fs, b, row);
            QString text = QStringLiteral("index %1").arg(fs.index);
            if (found)
                text += QStringLiteral(" · %1 batch %2 row %3")
                            .arg(QString::fromStdString(m.batches[b].variant))
                            .arg(m.batches[b].batch)
                            .arg(row);
            auto* child = new QTreeWidgetItem(
                top, {QString(), text, QString(), QString(), QString::fromStdString(fs.path)});
            child->setData(0, kRoleBatch, found ? int(b) : -1);
            child->setData(0, kRoleRow, row);
            if (top->data(0, kRoleBatch).toInt() < 0 && found) {
                top->setData(0, kRoleBatch, int(b));
                top->setData(0, kRoleRow, row);
            }
        }
        findings_->addTopLevelItem(top);
    }
    if (model_->report()->findings.empty()) {
        auto* ok = new QTreeWidgetItem(
            {QStringLiteral("ok"), QStringLiteral("no findings"), QString(), QString(),
             QStringLiteral("every dumped sample matches batchscope's reproduction")});
        ok->setForeground(0, QColor(140, 210, 140));
        ok->setData(0, kRoleBatch, -1);
        findings_->addTopLevelItem(ok);
    }
    findings_->expandAll();
}

void CompareView::onFindingActivated(QTreeWidgetItem* item) {
    if (!item) return;
    const int b = item->data(0, kRoleBatch).toInt();
    if (b < 0) return;
    const int row = item->data(0, kRoleRow).toInt();
    if (size_t(b) != batch_) {
        row_ = row;
        goToBatch(b);
    } else {
        selectRow(row);
    }
}

void CompareView::onHover(QPointF p, bool inside) {
    if (!inside) return;
    probe(int(std::floor(p.x())), int(std::floor(p.y())));
}

void CompareView::probe(int x, int y) {
    if (!model_->shown() || model_->shown()->user.empty()) return;
    const Planes pl = planesOf(model_->shown()->user);
    if (x < 0 || y < 0 || x >= pl.w || y >= pl.h) return;
    const size_t plane = size_t(pl.h) * size_t(pl.w), px = size_t(y) * size_t(pl.w) + size_t(x);
    QString t = QStringLiteral("x %1, y %2: user %3")
                    .arg(x)
                    .arg(y)
                    .arg(vecText(model_->shown()->user, px, plane, pl.c));
    if (model_->shown()->compared)
        t += QStringLiteral(" · batchscope %1 · |Δ| %2")
                 .arg(vecText(model_->shown()->repro, px, plane, pl.c),
                      vecText(model_->shown()->absDiff, px, plane, pl.c));
    readouts_.probe->setText(t);
}

}  // namespace bs::ui
