// The targets' legend and controls: one row per class (colour swatch, name,
// show/hide checkbox), the mask opacity and "mask" / "boxes" toggles. Only
// emits the settings; drawing is ui/render/targetoverlay.
#pragma once

#include <QWidget>

#include <functional>

#include "core/target/target.h"
#include "ui/render/targetoverlay.h"

class QCheckBox;
class QSlider;
class QVBoxLayout;

namespace bs::ui {

class TargetLegend : public QWidget {
    Q_OBJECT
public:
    explicit TargetLegend(QWidget* parent = nullptr);

    // Rebuilds the class rows; keeps hidden classes that still exist.
    void setSchema(const bs::TargetSchema& schema);
    const bs::TargetSchema& schema() const { return schema_; }
    const TargetOverlaySettings& settings() const { return settings_; }

Q_SIGNALS:
    void settingsChanged(const bs::ui::TargetOverlaySettings& settings);

private:
    QWidget* classRow(int64_t id, const QString& name);
    void change(const std::function<void(TargetOverlaySettings&)>& change);

    bs::TargetSchema schema_;
    TargetOverlaySettings settings_;
    QCheckBox* mask_ = nullptr;
    QCheckBox* boxes_ = nullptr;
    QSlider* opacity_ = nullptr;
    QVBoxLayout* classes_ = nullptr;
};

}  // namespace bs::ui
