#include "ui/widgets/pipelinepanel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include "core/pipeline/pipeline.h"
#include "ui/widgets/dialogfolders.h"
#include "ui/widgets/windowparts.h"

namespace bs::ui {

using nlohmann::json;

namespace {

// Parameters a freshly added stage starts with (torchvision requires them).
json defaultStage(const std::string& op) {
    json s = {{"op", op}};
    if (op == "Resize")
        s["size"] = 256;
    else if (op == "CenterCrop" || op == "RandomCrop" || op == "RandomResizedCrop")
        s["size"] = 224;
    else if (op == "Pad")
        s["padding"] = 4;
    else if (op == "Normalize") {
        s["mean"] = {0.485, 0.456, 0.406};
        s["std"] = {0.229, 0.224, 0.225};
    } else if (op == "RandomHorizontalFlip" || op == "RandomVerticalFlip")
        s["p"] = 0.5;
    else if (op == "Grayscale")
        s["num_output_channels"] = 1;
    else if (op == "Lambda")
        s["expr"] = "x";
    else if (op == "ConvertImageDtype")
        s["dtype"] = "torch.float32";
    else if (op == "TorchScript")
        s["path"] = "transform.pt";
    return s;
}

json presetJson(const QString& name) {
    if (name == "ImageNet evaluation")
        return json::parse(
            R"([{"op":"Resize","size":256},{"op":"CenterCrop","size":224},{"op":"ToTensor"},
            {"op":"Normalize","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}])");
    if (name == "ImageNet training")
        return json::parse(
            R"([{"op":"RandomResizedCrop","size":224},{"op":"RandomHorizontalFlip","p":0.5},
            {"op":"ToTensor"},{"op":"Normalize","mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}])");
    if (name == "MNIST-style")
        return json::parse(
            R"([{"op":"ToTensor"},{"op":"Normalize","mean":[0.1307],"std":[0.3081]}])");
    return json::array();
}

// "2  CenterCrop" and one indented line per parameter: a narrow dock shows
// every name whole instead of cutting "Resize(interpolation=..." mid-word.
QString stageText(size_t number, const json& s, bool culprit) {
    QString t = QStringLiteral("%1%2  %3")
                    .arg(culprit ? QStringLiteral("⚠ ") : QString())
                    .arg(number)
                    .arg(QString::fromStdString(s.value("op", std::string("?"))));
    for (auto it = s.begin(); it != s.end(); ++it) {
        if (it.key() == "op" || it.key() == "enabled") continue;
        QString v = it.value().is_string() ? QString::fromStdString(it.value().get<std::string>())
                                           : QString::fromStdString(it.value().dump());
        v.replace(',', QStringLiteral(", "));
        if (v.size() > 30) v = v.left(28) + QStringLiteral("…");
        t += QStringLiteral("\n      %1 = %2").arg(QString::fromStdString(it.key()), v);
    }
    return t;
}

// A wrapped line under the stage list (where the pipeline came from, why it
// does not parse), hidden until there is something to say.
QLabel* noteLabel(const QString& objectName, const QString& styleSheet) {
    auto* l = new QLabel;
    l->setObjectName(objectName);
    l->setWordWrap(true);
    l->setStyleSheet(styleSheet);
    l->hide();
    return l;
}

}  // namespace

PipelinePanel::PipelinePanel(QWidget* parent) : QWidget(parent) {
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(6, 6, 6, 6);
    auto* top = new QHBoxLayout;
    presets_ = new QComboBox;
    presets_->addItem(QStringLiteral("Preset…"));
    presets_->addItems(presetNames());
    connect(presets_, &QComboBox::activated, this, [this](int i) {
        if (i > 0) applyPreset(presets_->itemText(i));
        presets_->setCurrentIndex(0);
    });
    auto* fileBtn = new QToolButton;
    fileBtn->setText(QStringLiteral("File"));
    fileBtn->setPopupMode(QToolButton::InstantPopup);
    auto* fileMenu = new QMenu(fileBtn);
    fileMenu->addAction(QStringLiteral("Load JSON…"), this, &PipelinePanel::loadFile);
    fileMenu->addAction(QStringLiteral("Save JSON…"), this, &PipelinePanel::saveFile);
    fileMenu->addAction(QStringLiteral("Paste from torchvision…"), this,
                        &PipelinePanel::pasteTorchvision);
    fileBtn->setMenu(fileMenu);
    top->addWidget(presets_, 1);
    top->addWidget(fileBtn);
    v->addLayout(top);
    origin_ = noteLabel(QStringLiteral("pipelineOrigin"),
                        QStringLiteral("color: #9fb3c8; font-size: 11px;"));
    v->addWidget(origin_);

    list_ = new QListWidget;
    list_->setObjectName(QStringLiteral("pipelineStages"));
    list_->setDragDropMode(QAbstractItemView::NoDragDrop);
    list_->setMinimumHeight(120);
    list_->setWordWrap(true);
    list_->setTextElideMode(Qt::ElideNone);
    v->addWidget(list_, 2);
    connect(list_, &QListWidget::currentRowChanged, this, [this](int row) {
        rebuildForm();
        if (!updating_ && row >= 0) Q_EMIT stageSelected(row);
    });
    // Toggling a stage edits the JSON and the item in place: the item whose
    // signal this is stays alive.
    connect(list_, &QListWidget::itemChanged, this, [this](QListWidgetItem* item) {
        if (updating_) return;
        const int row = list_->row(item);
        if (row < 0 || size_t(row) >= stagesJson_.size()) return;
        editKey(row, "enabled", item->checkState() == Qt::Checked ? "null" : "false");
    });

    auto* buttons = new QHBoxLayout;
    auto* add = new QToolButton;
    add->setText(QStringLiteral("+ Add"));
    add->setPopupMode(QToolButton::InstantPopup);
    auto* addMenu = new QMenu(add);
    for (const auto& op : bs::Pipeline::supportedOps()) {
        const QString name = QString::fromStdString(op);
        addMenu->addAction(name, this, [this, name] { addStage(name); });
    }
    add->setMenu(addMenu);
    buttons->addWidget(add);
    connect(addToolButton(buttons, QStringLiteral("Remove"),
                          QStringLiteral("Remove the selected stage")),
            &QToolButton::clicked, this, [this] {
                const int row = list_->currentRow();
                if (row < 0 || size_t(row) >= stagesJson_.size()) return;
                stagesJson_.erase(stagesJson_.begin() + row);
                commit(std::min(row, int(stagesJson_.size()) - 1));
            });
    connect(addToolButton(buttons, QStringLiteral("▲"), QStringLiteral("Move up")),
            &QToolButton::clicked, this, [this] { move(-1); });
    connect(addToolButton(buttons, QStringLiteral("▼"), QStringLiteral("Move down")),
            &QToolButton::clicked, this, [this] { move(1); });
    buttons->addStretch();
    v->addLayout(buttons);

    form_ = new QWidget;
    formLayout_ = new QFormLayout(form_);
    formLayout_->setContentsMargins(0, 4, 0, 0);
    v->addWidget(form_, 1);
    error_ = noteLabel(QStringLiteral("pipelineError"), QStringLiteral("color: #ff7b72;"));
    v->addWidget(error_);
}

QStringList PipelinePanel::presetNames() {
    return {QStringLiteral("ImageNet evaluation"), QStringLiteral("ImageNet training"),
            QStringLiteral("MNIST-style"), QStringLiteral("none")};
}

int PipelinePanel::stageCount() const {
    return int(stagesJson_.size());
}

std::string PipelinePanel::pipelineJson() const {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& s : stagesJson_) a.push_back(nlohmann::json::parse(s));
    return a.dump(2);
}

bool PipelinePanel::setJson(const std::string& text) {
    return setText(text);
}

bool PipelinePanel::setText(const std::string& text, QString* errorOut) {
    try {
        bs::Pipeline p = bs::Pipeline::parse(text);
        nlohmann::json a = p.toJson();
        std::vector<std::string> stages;
        size_t i = 0;
        for (auto& s : a) {
            if (i < p.size() && !p.isEnabled(i)) s["enabled"] = false;
            stages.push_back(s.dump());
            ++i;
        }
        stagesJson_ = stages;
        culprit_ = -1;
        error_->hide();
        rebuildList(0);
        Q_EMIT pipelineReplaced();
        Q_EMIT pipelineChanged();
        return true;
    } catch (const std::exception& e) {
        const QString message = humanError(QString::fromUtf8(e.what()));
        showError(message);
        if (errorOut) *errorOut = message;
        return false;
    }
}

QString PipelinePanel::humanError(const QString& raw) {
    static const QRegularExpression tag(QStringLiteral(R"(\[json\.exception\.[a-z_]+\.\d+\]\s*)"));
    static const QRegularExpression syntax(
        QStringLiteral(R"(syntax error while parsing [a-z ]+? - )"));
    QString m = raw;
    m.remove(tag);
    m.replace(QStringLiteral("parse error at "), QStringLiteral("not valid JSON at "));
    m.replace(QStringLiteral("parse error: "), QStringLiteral("not valid JSON: "));
    m.remove(syntax);
    m.replace(QChar('\n'), QChar(' '));
    return m.simplified();
}

void PipelinePanel::applyPreset(const QString& name) {
    if (setText(presetJson(name).dump()))
        setOrigin(QStringLiteral("preset \u201c%1\u201d").arg(name));
}

std::string PipelinePanel::presetText(const QString& name) {
    return presetJson(name).dump();
}

void PipelinePanel::setOrigin(const QString& origin) {
    origin_->setText(origin.isEmpty() ? QString() : QStringLiteral("From: ") + origin);
    origin_->setVisible(!origin.isEmpty());
}

QString PipelinePanel::origin() const {
    return origin_->isHidden() ? QString() : origin_->text();
}

void PipelinePanel::showError(const QString& message) {
    error_->setText(message);
    error_->setVisible(!message.isEmpty());
}

void PipelinePanel::selectStage(int stage) {
    if (stage < 0 || stage >= list_->count() || stage == list_->currentRow()) return;
    updating_ = true;
    list_->setCurrentRow(stage);
    updating_ = false;
}

void PipelinePanel::markCulprit(int stage) {
    const int before = culprit_;
    culprit_ = stage >= 0 && stage < list_->count() ? stage : -1;
    for (int row : {before, culprit_})
        if (row >= 0) refreshItem(row);
}

void PipelinePanel::refreshItem(int row) {
    QListWidgetItem* item = list_->item(row);
    if (!item || size_t(row) >= stagesJson_.size()) return;
    const nlohmann::json s = nlohmann::json::parse(stagesJson_[size_t(row)]);
    const bool culprit = row == culprit_;
    const bool was = updating_;
    updating_ = true;
    item->setText(stageText(size_t(row) + 1, s, culprit));
    item->setCheckState(s.value("enabled", true) ? Qt::Checked : Qt::Unchecked);
    QFont f = list_->font();
    f.setBold(culprit);
    item->setFont(f);
    item->setForeground(culprit ? QBrush(QColor(255, 120, 110)) : QBrush());
    item->setBackground(culprit ? QBrush(QColor(90, 30, 30)) : QBrush());
    item->setToolTip((culprit ? QStringLiteral("The selected finding blames this stage.\n")
                              : QString()) +
                     QString::fromStdString(s.dump(2)));
    updating_ = was;
}

void PipelinePanel::rebuildList(int select) {
    updating_ = true;
    list_->clear();
    for (size_t i = 0; i < stagesJson_.size(); ++i) {
        auto* item = new QListWidgetItem;
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        list_->addItem(item);
        refreshItem(int(i));
    }
    if (select >= 0 && select < list_->count()) list_->setCurrentRow(select);
    updating_ = false;
    rebuildForm();
}

bool PipelinePanel::validate() {
    // The whole pipeline is checked before anyone sees it: a bad parameter
    // stays visible in the panel with the core's message, nothing reruns.
    try {
        bs::Pipeline::parse(pipelineJson());
        error_->hide();
        return true;
    } catch (const std::exception& e) {
        showError(humanError(QString::fromUtf8(e.what())));
        return false;
    }
}

void PipelinePanel::markEdited() {
    if (!origin_->isHidden() && !origin_->text().endsWith(QStringLiteral(", edited")))
        origin_->setText(origin_->text() + QStringLiteral(", edited"));
}

void PipelinePanel::commit(int select) {
    rebuildList(select);
    markEdited();
    if (validate()) Q_EMIT pipelineChanged();
}

void PipelinePanel::editKey(int row, const std::string& key, const std::string& valueJson) {
    if (row < 0 || size_t(row) >= stagesJson_.size()) return;
    nlohmann::json st = nlohmann::json::parse(stagesJson_[size_t(row)]);
    const nlohmann::json value = nlohmann::json::parse(valueJson);
    if (value.is_null())
        st.erase(key);
    else
        st[key] = value;
    stagesJson_[size_t(row)] = st.dump();
    refreshItem(row);
    markEdited();
    if (validate()) Q_EMIT pipelineChanged();
}

void PipelinePanel::addStage(const QString& op) {
    const int row = list_->currentRow() < 0 ? int(stagesJson_.size()) : list_->currentRow() + 1;
    stagesJson_.insert(stagesJson_.begin() + row, defaultStage(op.toStdString()).dump());
    commit(row);
}

void PipelinePanel::move(int delta) {
    const int row = list_->currentRow();
    const int to = row + delta;
    if (row < 0 || to < 0 || to >= int(stagesJson_.size())) return;
    std::swap(stagesJson_[row], stagesJson_[to]);
    commit(to);
}

void PipelinePanel::clearForm() {
    while (formLayout_->rowCount() > 0) {
        const QFormLayout::TakeRowResult r = formLayout_->takeRow(0);
        for (QLayoutItem* item : {r.labelItem, r.fieldItem}) {
            if (!item) continue;
            if (QWidget* w = item->widget()) {
                // Possibly the editor whose signal is running: disconnected,
                // hidden, and deleted once control is back in the event loop.
                w->disconnect(this);
                w->setObjectName(QString());  // only live editors answer to param_<key>
                w->hide();
                w->deleteLater();
            }
            delete item;
        }
    }
}

void PipelinePanel::rebuildForm() {
    clearForm();
    const int row = list_->currentRow();
    if (row < 0 || size_t(row) >= stagesJson_.size()) return;
    const nlohmann::json s = nlohmann::json::parse(stagesJson_[size_t(row)]);
    formLayout_->addRow(new QLabel(
        QStringLiteral("<b>%1</b> parameters").arg(QString::fromStdString(s.value("op", "")))));
    for (auto it = s.begin(); it != s.end(); ++it) {
        if (it.key() == "op" || it.key() == "enabled") continue;
        QWidget* w = makeEditor(row, it.key(), it.value().dump());
        w->setObjectName(QString::fromStdString("param_" + it.key()));
        formLayout_->addRow(QString::fromStdString(it.key()), w);
    }
}

QWidget* PipelinePanel::makeEditor(int row, const std::string& key, const std::string& valueJson) {
    const nlohmann::json val = nlohmann::json::parse(valueJson);
    if (val.is_boolean()) {
        auto* cb = new QCheckBox;
        cb->setChecked(val.get<bool>());
        connect(cb, &QCheckBox::toggled, this,
                [this, row, key](bool on) { editKey(row, key, on ? "true" : "false"); });
        return cb;
    }
    if (val.is_number_integer()) {
        auto* sb = new QSpinBox;
        sb->setRange(-1000000, 1000000);
        sb->setValue(val.get<int>());
        sb->setKeyboardTracking(false);
        connect(sb, &QSpinBox::valueChanged, this,
                [this, row, key](int x) { editKey(row, key, std::to_string(x)); });
        return sb;
    }
    if (val.is_number()) {
        auto* sb = new QDoubleSpinBox;
        sb->setDecimals(5);
        sb->setRange(-1e9, 1e9);
        sb->setSingleStep(0.01);
        sb->setValue(val.get<double>());
        sb->setKeyboardTracking(false);
        connect(sb, &QDoubleSpinBox::valueChanged, this,
                [this, row, key](double x) { editKey(row, key, nlohmann::json(x).dump()); });
        return sb;
    }
    // Lists, strings and expressions: edited as JSON (strings plain).
    const bool isString = val.is_string();
    auto* le = new QLineEdit(isString ? QString::fromStdString(val.get<std::string>())
                                      : QString::fromStdString(val.dump()));
    connect(le, &QLineEdit::editingFinished, this, [this, le, row, key, isString] {
        const std::string t = le->text().toStdString();
        if (isString) {
            editKey(row, key, nlohmann::json(t).dump());
            return;
        }
        try {
            editKey(row, key, nlohmann::json::parse(t).dump());
        } catch (const nlohmann::json::exception&) {
            showError(QStringLiteral("%1: not valid JSON (e.g. [0.5, 0.5, 0.5])")
                          .arg(QString::fromStdString(key)));
        }
    });
    return le;
}

bool PipelinePanel::loadPipelineFile(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) {
        showError(QStringLiteral("%1: cannot read (%2)").arg(path, f.errorString()));
        return false;
    }
    QString error;
    if (setText(f.readAll().toStdString(), &error)) return true;
    showError(QStringLiteral("%1: %2").arg(QFileInfo(path).fileName(), error));
    return false;
}

void PipelinePanel::loadFile() {
    const QString path =
        askOpenFile(this, QStringLiteral("pipeline"), QStringLiteral("Load pipeline"),
                    QStringLiteral("Pipeline (*.json *.txt);;All files (*)"));
    if (path.isEmpty()) return;
    if (loadPipelineFile(path)) setOrigin(QFileInfo(path).fileName());
}

void PipelinePanel::saveFile() {
    const QString path =
        askSaveFile(this, QStringLiteral("pipeline"), QStringLiteral("Save pipeline"),
                    QStringLiteral("pipeline.json"), QStringLiteral("JSON (*.json)"));
    if (path.isEmpty()) return;
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) ||
        f.write(QByteArray::fromStdString(pipelineJson() + "\n")) < 0)
        showError(QStringLiteral("%1: cannot write (%2)").arg(path, f.errorString()));
}

void PipelinePanel::pasteTorchvision() {
    QDialog dlg(this);
    dlg.setWindowTitle(QStringLiteral("Paste from torchvision"));
    auto* v = new QVBoxLayout(&dlg);
    v->addWidget(
        new QLabel(QStringLiteral("Paste what <code>print(transform)</code> shows in Python:")));
    auto* edit = new QPlainTextEdit;
    edit->setPlaceholderText(
        "Compose(\n    Resize(size=256, interpolation=bilinear, max_size=None, antialias=None)\n"
        "    CenterCrop(size=(224, 224))\n    ToTensor()\n"
        "    Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])\n)");
    edit->setMinimumSize(520, 200);
    v->addWidget(edit);
    auto* err = new QLabel;
    err->setStyleSheet(QStringLiteral("color: #ff7b72;"));
    err->setWordWrap(true);
    v->addWidget(err);
    auto* bb = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    v->addWidget(bb);
    connect(bb, &QDialogButtonBox::rejected, &dlg, &QDialog::reject);
    connect(bb, &QDialogButtonBox::accepted, &dlg, [&] {
        std::vector<std::string> unknown;
        try {
            bs::Pipeline p =
                bs::Pipeline::fromTorchvisionText(edit->toPlainText().toStdString(), ".", &unknown);
            if (!setText(p.toJson().dump())) return;
            setOrigin(QStringLiteral("pasted torchvision text"));
            if (!unknown.empty()) {
                QStringList names;
                for (auto& u : unknown) names << QString::fromStdString(u);
                showError(QStringLiteral("skipped stages batchscope cannot reproduce: %1")
                              .arg(names.join(", ")));
            }
            dlg.accept();
        } catch (const std::exception& e) {
            err->setText(QString::fromUtf8(e.what()));
        }
    });
    dlg.exec();
}

}  // namespace bs::ui
